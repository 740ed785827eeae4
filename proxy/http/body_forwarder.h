// BodyForwarder: moves one HTTP message body from the buffer it arrives in to the buffer it
// leaves by, framed as the message says, without copying bytes when it can avoid it.
//
//   BodyForwarder body;
//   body.Start(BodyForwarder::Mode::kLength, response.content_length);
//   // each time bytes arrive in |in| (and |out| has room):
//   BodyForwarder::Step step = body.Move(*in, &out, /*budget=*/256 * 1024);
//   if (step.error != HttpError::kNone) ...abort both connections...
//   if (body.done()) ...the bytes after the body in |in| belong to the next message...
//
// Modes:
//   kNone           no body: done at once.
//   kLength         exactly N bytes, appended by reference (MIOBuffer::AppendFrom).
//   kChunkedRaw     a chunked body forwarded as it came (chunk sizes, extensions and trailers
//                   included), appended by reference; a ChunkedDecoder finds where it ends and
//                   rejects malformed framing.
//   kChunkedDecode  a chunked body forwarded as plain data (for an HTTP/1.0 peer, which cannot
//                   take chunked): the chunk data is copied, the framing dropped.
//   kUntilClose     everything until the sender closes; the caller ends it with FinishAtEof.
//
// Move consumes from |in| exactly the bytes that belong to the body, never more, so pipelined
// messages after the body stay in |in|. Used by one thread at a time (the session's).

#ifndef TOLLGATE_PROXY_HTTP_BODY_FORWARDER_H_
#define TOLLGATE_PROXY_HTTP_BODY_FORWARDER_H_

#include <cstdint>

#include "iocore/eventsystem/io_buffer.h"
#include "proxy/http/http_parser.h"

namespace tollgate {

class BodyForwarder {
 public:
  enum class Mode : uint8_t {
    kNone,
    kLength,
    kChunkedRaw,
    kChunkedDecode,
    kUntilClose,
  };

  struct Step {
    // Body bytes appended to |out| by this call, framing included for kChunkedRaw.
    int64_t appended = 0;
    // kNone, or why the body's framing is invalid (chunked modes only).
    HttpError error = HttpError::kNone;
  };

  // Start begins a body of |mode|; |length| is the Content-Length for kLength.
  void Start(Mode mode, uint64_t length = 0);

  // Move takes body bytes from the front of |in| and appends them to |out|: at most about
  // |budget| bytes per call (whole buffer blocks at a time in the chunked modes). It consumes
  // what it forwarded from |in| and nothing after the body's end.
  Step Move(IOBufferReader& in, MIOBuffer* out, int64_t budget);

  // FinishAtEof ends a kUntilClose body when the sender closed. For other modes it returns
  // false: the body was cut short.
  bool FinishAtEof();

  bool done() const { return done_; }
  Mode mode() const { return mode_; }
  // forwarded returns the body bytes consumed from the input so far (framing included).
  uint64_t forwarded() const { return forwarded_; }

 private:
  Step MoveChunked(IOBufferReader& in, MIOBuffer* out, int64_t budget);

  Mode mode_ = Mode::kNone;
  bool done_ = true;
  uint64_t remaining_ = 0;
  uint64_t forwarded_ = 0;
  ChunkedDecoder decoder_;
};

}  // namespace tollgate

#endif  // TOLLGATE_PROXY_HTTP_BODY_FORWARDER_H_
