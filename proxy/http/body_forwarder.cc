#include "proxy/http/body_forwarder.h"

#include <algorithm>

namespace tollgate {

void BodyForwarder::Start(Mode mode, uint64_t length) {
  mode_ = mode;
  remaining_ = length;
  forwarded_ = 0;
  decoder_.Reset();
  done_ = mode == Mode::kNone || (mode == Mode::kLength && length == 0);
}

BodyForwarder::Step BodyForwarder::Move(IOBufferReader& in, MIOBuffer* out, int64_t budget) {
  Step step;
  if (done_ || budget <= 0) return step;
  switch (mode_) {
    case Mode::kNone:
      done_ = true;
      return step;
    case Mode::kLength: {
      const int64_t n =
          std::min<int64_t>({in.ReadAvail(), budget,
                             static_cast<int64_t>(std::min<uint64_t>(remaining_, INT64_MAX))});
      if (n <= 0) return step;
      step.appended = out->AppendFrom(in, n);
      in.Consume(n);
      remaining_ -= static_cast<uint64_t>(n);
      forwarded_ += static_cast<uint64_t>(n);
      done_ = remaining_ == 0;
      return step;
    }
    case Mode::kUntilClose: {
      const int64_t n = std::min(in.ReadAvail(), budget);
      if (n <= 0) return step;
      step.appended = out->AppendFrom(in, n);
      in.Consume(n);
      forwarded_ += static_cast<uint64_t>(n);
      return step;
    }
    case Mode::kChunkedRaw:
    case Mode::kChunkedDecode:
      return MoveChunked(in, out, budget);
  }
  return step;
}

BodyForwarder::Step BodyForwarder::MoveChunked(IOBufferReader& in, MIOBuffer* out, int64_t budget) {
  Step step;
  const bool raw = mode_ == Mode::kChunkedRaw;
  int64_t taken = 0;
  in.ForEachBlock([&](absl::string_view block) {
    while (!block.empty()) {
      ChunkedDecoder::Result r = decoder_.Decode(block);
      if (!raw && !r.data.empty()) step.appended += out->Write(r.data);
      block.remove_prefix(r.consumed);
      taken += static_cast<int64_t>(r.consumed);
      if (r.status == ParseStatus::kError) {
        step.error = r.error;
        return false;
      }
      if (r.status == ParseStatus::kDone) {
        done_ = true;
        return false;
      }
      if (r.consumed == 0) return false;  // no progress: wait for more bytes
    }
    return taken < budget;
  });
  if (step.error != HttpError::kNone) return step;
  if (raw && taken > 0) step.appended = out->AppendFrom(in, taken);
  in.Consume(taken);
  forwarded_ += static_cast<uint64_t>(taken);
  return step;
}

bool BodyForwarder::FinishAtEof() {
  if (mode_ != Mode::kUntilClose) return done_;
  done_ = true;
  return true;
}

}  // namespace tollgate
