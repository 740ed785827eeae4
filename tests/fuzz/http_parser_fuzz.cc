// libFuzzer target for //proxy/http:http_parser: the request parser, the response parser and
// the chunked decoder on the same input. Beyond "no crash, no sanitizer report" it checks two
// invariants and traps when one breaks:
//   - feeding the input in pieces gives the same result as feeding it at once;
//   - a parsed request serialized with SerializeRequestHead parses again to the same bytes.
// The first input byte is a knob: its low five bits pick the piece size, bit 7 picks small limits
// (so the limit paths are reached with short inputs), bits 5-6 the request method for responses.
// How to build and run: tests/fuzz/README.md.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/http/http_parser.h"

namespace tollgate {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

struct RequestOutcome {
  ParseResult result;
  size_t consumed = 0;
  std::string head;
};

RequestOutcome ParseRequestInPieces(absl::string_view in, size_t piece,
                                    const HttpParserLimits& limits) {
  HttpRequestParser parser(limits);
  RequestOutcome out;
  while (true) {
    absl::string_view chunk = in.substr(0, piece);
    size_t consumed = 0;
    out.result = parser.Parse(chunk, &consumed);
    Check(consumed <= chunk.size());
    out.consumed += consumed;
    if (out.result.status != ParseStatus::kNeedMore) break;
    Check(consumed == chunk.size());
    in.remove_prefix(chunk.size());
    if (in.empty()) break;
  }
  if (out.result.status == ParseStatus::kDone) out.head = SerializeRequestHead(parser.request());
  return out;
}

struct ResponseOutcome {
  ParseResult result;
  size_t consumed = 0;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
};

ResponseOutcome ParseResponseInPieces(absl::string_view in, size_t piece, absl::string_view method,
                                      const HttpParserLimits& limits) {
  HttpResponseParser parser(method, limits);
  ResponseOutcome out;
  while (true) {
    absl::string_view chunk = in.substr(0, piece);
    size_t consumed = 0;
    out.result = parser.Parse(chunk, &consumed);
    Check(consumed <= chunk.size());
    out.consumed += consumed;
    if (out.result.status != ParseStatus::kNeedMore) break;
    in.remove_prefix(chunk.size());
    if (in.empty()) break;
  }
  out.framing = parser.response().framing;
  out.content_length = parser.response().content_length;
  return out;
}

struct ChunkedOutcome {
  ParseStatus status = ParseStatus::kNeedMore;
  HttpError error = HttpError::kNone;
  size_t consumed = 0;
  std::string body;
};

ChunkedOutcome DecodeInPieces(absl::string_view in, size_t piece,
                              const ChunkedDecoder::Limits& limits) {
  ChunkedDecoder decoder(limits);
  ChunkedOutcome out;
  while (!in.empty()) {
    absl::string_view chunk = in.substr(0, piece);
    in.remove_prefix(chunk.size());
    while (!chunk.empty()) {
      ChunkedDecoder::Result r = decoder.Decode(chunk);
      Check(r.consumed <= chunk.size());
      Check(r.data.size() <= r.consumed);
      chunk.remove_prefix(r.consumed);
      out.consumed += r.consumed;
      out.body.append(r.data.data(), r.data.size());
      out.status = r.status;
      out.error = r.error;
      if (r.status != ParseStatus::kNeedMore) {
        Check(decoder.body_bytes() == out.body.size());
        return out;
      }
    }
  }
  return out;
}

void FuzzOne(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const uint8_t knob = data[0];
  absl::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t piece = static_cast<size_t>(knob & 0x1f) + 1;

  HttpParserLimits limits;
  ChunkedDecoder::Limits chunked_limits;
  if (knob & 0x80) {
    limits.max_start_line_bytes = 32;
    limits.max_header_bytes = 128;
    limits.max_header_count = 4;
    limits.max_leading_empty_lines = 1;
    chunked_limits.max_chunk_size = 64;
    chunked_limits.max_extension_bytes = 8;
    chunked_limits.max_trailer_bytes = 32;
    chunked_limits.max_trailer_count = 2;
  }

  // Requests.
  RequestOutcome whole = ParseRequestInPieces(in, in.size() + 1, limits);
  RequestOutcome split = ParseRequestInPieces(in, piece, limits);
  Check(whole.result.status == split.result.status);
  Check(whole.result.error == split.result.error);
  Check((whole.result.status == ParseStatus::kError) == (whole.result.error != HttpError::kNone));
  if (whole.result.status != ParseStatus::kError) Check(whole.consumed == split.consumed);
  Check(whole.head == split.head);
  if (whole.result.status == ParseStatus::kDone) {
    // Round trip: serialization drops leading empty lines and the whitespace around values
    // and writes one SP after each colon, so only the header byte count may grow.
    HttpParserLimits again_limits = limits;
    again_limits.max_header_bytes = 2 * whole.head.size() + 64;
    RequestOutcome again = ParseRequestInPieces(whole.head, whole.head.size() + 1, again_limits);
    Check(again.result.status == ParseStatus::kDone);
    Check(again.head == whole.head);
    Check(again.consumed == whole.head.size());
  }
  (void)HttpErrorReason(whole.result.error);
  (void)HttpErrorStatusCode(whole.result.error);

  // Responses.
  static constexpr absl::string_view kMethods[] = {"GET", "HEAD", "CONNECT", "POST"};
  absl::string_view method = kMethods[(knob >> 5) & 3];
  ResponseOutcome rwhole = ParseResponseInPieces(in, in.size() + 1, method, limits);
  ResponseOutcome rsplit = ParseResponseInPieces(in, piece, method, limits);
  Check(rwhole.result.status == rsplit.result.status);
  Check(rwhole.result.error == rsplit.result.error);
  if (rwhole.result.status == ParseStatus::kDone) {
    Check(rwhole.consumed == rsplit.consumed);
    Check(rwhole.framing == rsplit.framing);
    Check(rwhole.content_length == rsplit.content_length);
  }

  // Chunked bodies.
  ChunkedOutcome cwhole = DecodeInPieces(in, in.size() + 1, chunked_limits);
  ChunkedOutcome csplit = DecodeInPieces(in, piece, chunked_limits);
  Check(cwhole.status == csplit.status);
  Check(cwhole.error == csplit.error);
  Check(cwhole.body == csplit.body);
  if (cwhole.status != ParseStatus::kError) Check(cwhole.consumed == csplit.consumed);
}

}  // namespace
}  // namespace tollgate

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tollgate::FuzzOne(data, size);
  return 0;
}
