// Benchmarks of the IOBuffer data path. Linked with benchmark_main into the benchmark binary.
//
// Each benchmark warms the free lists first and then checks, through the allocator stats, that
// its timed loop took nothing from the system allocator: the steady state runs on free lists.

#include <cstdint>
#include <string>

#include "benchmark/benchmark.h"
#include "iocore/eventsystem/io_buffer.h"

namespace tollgate {
namespace {

// SystemAllocations returns how many IOBufferData and IOBufferBlock objects so far came from the
// system allocator rather than a free list.
int64_t SystemAllocations() {
  const IOBufferAllocatorStats stats = GetIOBufferAllocatorStats();
  return stats.fresh + stats.blocks_fresh;
}

// ReportSystemAllocations fails the benchmark when the timed loop allocated from the system.
void ReportSystemAllocations(benchmark::State& state, int64_t before) {
  const int64_t fresh = SystemAllocations() - before;
  state.counters["system_allocs"] = static_cast<double>(fresh);
  if (fresh != 0) state.SkipWithError("steady state allocated from the system allocator");
}

// A connection's read side: 16 KiB arrives, the parser consumes it all.
void BM_IOBufferWriteConsume16K(benchmark::State& state) {
  constexpr int64_t kChunk = 16 * 1024;
  const std::string chunk(kChunk, 'x');
  MIOBuffer buf;
  IOBufferReader* reader = buf.AllocReader();
  buf.Write(chunk.data(), kChunk);  // warm the free lists
  reader->Consume(kChunk);

  const int64_t before = SystemAllocations();
  for (auto _ : state) {
    buf.Write(chunk.data(), kChunk);
    benchmark::DoNotOptimize(reader->ReadAvail());
    reader->Consume(kChunk);
  }
  ReportSystemAllocations(state, before);
  state.SetBytesProcessed(state.iterations() * kChunk);
}
BENCHMARK(BM_IOBufferWriteConsume16K);

// A proxy forwarding a 1 MiB body: the chain (16 blocks of 64 KiB) is appended by reference to
// the outgoing buffer, which is then consumed as if written to the socket.
void BM_IOBufferAppendByReference1MiB(benchmark::State& state) {
  constexpr int64_t kBody = 1024 * 1024;
  MIOBuffer body(SizeClassFor(64 * 1024));
  IOBufferReader* body_reader = body.AllocReader();
  const std::string bytes(kBody, 'b');
  body.Write(bytes.data(), kBody);
  MIOBuffer out;
  IOBufferReader* out_reader = out.AllocReader();
  out.AppendFrom(*body_reader, kBody);  // warm the free lists
  out_reader->Consume(kBody);

  const int64_t before = SystemAllocations();
  for (auto _ : state) {
    out.AppendFrom(*body_reader, kBody);
    benchmark::DoNotOptimize(out_reader->ReadAvail());
    out_reader->Consume(kBody);
  }
  ReportSystemAllocations(state, before);
  state.SetBytesProcessed(state.iterations() * kBody);
}
BENCHMARK(BM_IOBufferAppendByReference1MiB);

}  // namespace
}  // namespace tollgate
