#include "iocore/eventsystem/io_buffer.h"

#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace tollgate {
namespace {

// Everything |reader| can see, gathered through ForEachBlock.
std::string Contents(const IOBufferReader& reader) {
  std::string out;
  reader.ForEachBlock([&out](absl::string_view run) {
    out.append(run.data(), run.size());
    return true;
  });
  return out;
}

std::vector<const char*> RunStarts(const IOBufferReader& reader) {
  std::vector<const char*> starts;
  reader.ForEachBlock([&starts](absl::string_view run) {
    starts.push_back(run.data());
    return true;
  });
  return starts;
}

std::string Pattern(int64_t len, char seed = 'a') {
  std::string s(static_cast<size_t>(len), '\0');
  for (int64_t i = 0; i < len; ++i) s[i] = static_cast<char>(seed + i % 23);
  return s;
}

// --- Size classes --------------------------------------------------------------------------------

TEST(IOBufferSizeClassTest, SizeClassForPicksSmallestClassThatFitsAndClamps) {
  EXPECT_EQ(SizeClassFor(-5), 0);
  EXPECT_EQ(SizeClassFor(0), 0);
  EXPECT_EQ(SizeClassFor(1), 0);
  EXPECT_EQ(SizeClassFor(128), 0);
  EXPECT_EQ(SizeClassFor(129), 1);
  EXPECT_EQ(SizeClassFor(4096), 5);
  EXPECT_EQ(SizeClassFor(32768), kDefaultSizeClass);
  EXPECT_EQ(SizeClassFor(2 << 20), 14);
  EXPECT_EQ(SizeClassFor((2 << 20) + 1), 14);
  EXPECT_EQ(SizeClassBytes(0), 128);
  EXPECT_EQ(SizeClassBytes(14), 2 << 20);
  EXPECT_EQ(SizeClassBytes(99), 2 << 20);
  EXPECT_EQ(SizeClassBytes(-1), 128);
  EXPECT_EQ(SizeClassBytes(kDefaultSizeClass), 32768);
  EXPECT_EQ(MIOBuffer().size_class(), kDefaultSizeClass);
}

// --- Blocks --------------------------------------------------------------------------------------

TEST(IOBufferBlockTest, CloneSharesDataAndHasNoWriteSpace) {
  Ptr<IOBufferBlock> block = IOBufferBlock::Alloc(0);
  EXPECT_EQ(block->read_avail(), 0);
  EXPECT_EQ(block->write_avail(), 128);
  EXPECT_EQ(block->data()->refcount(), 1);

  Ptr<IOBufferBlock> clone = block->Clone();
  EXPECT_EQ(clone->data(), block->data());
  EXPECT_EQ(clone->start(), block->start());
  EXPECT_EQ(clone->end(), block->end());
  EXPECT_EQ(clone->write_avail(), 0);
  EXPECT_EQ(clone->next(), nullptr);
  EXPECT_EQ(block->data()->refcount(), 2);
  clone = nullptr;
  EXPECT_EQ(block->data()->refcount(), 1);
}

TEST(IOBufferBlockTest, LongChainIsReleasedWithoutDeepRecursion) {
  {
    MIOBuffer buf(0);  // 128-byte blocks
    const std::string chunk = Pattern(1 << 20);
    for (int i = 0; i < 16; ++i) buf.Write(chunk);  // 131072 blocks
    EXPECT_EQ(buf.MaxReadAvail(), 16 << 20);
  }  // a recursive release would overflow the stack here
  TrimIOBufferFreeLists();
}

// --- Writing and reading -------------------------------------------------------------------------

TEST(IOBufferTest, WriteAcrossBlocksReadsBackSameBytes) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string bytes = Pattern(1000);
  EXPECT_EQ(buf.Write(bytes), 1000);
  EXPECT_EQ(reader->ReadAvail(), 1000);
  EXPECT_TRUE(reader->IsReadAvailMoreThan(999));
  EXPECT_FALSE(reader->IsReadAvailMoreThan(1000));
  EXPECT_EQ(RunStarts(*reader).size(), 8u);  // ceil(1000 / 128)
  EXPECT_EQ(Contents(*reader), bytes);

  std::string out(1000, '\0');
  EXPECT_EQ(reader->Read(out.data(), 1000), 1000);
  EXPECT_EQ(out, bytes);
  EXPECT_EQ(reader->ReadAvail(), 0);
}

TEST(IOBufferTest, WriteOfNothingChangesNothing) {
  MIOBuffer buf;
  EXPECT_EQ(buf.Write("", 0), 0);
  EXPECT_EQ(buf.Write(nullptr, -3), 0);
  EXPECT_FALSE(buf.HoldsData());
}

TEST(IOBufferTest, CopyOutAtOffsetDoesNotConsume) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string bytes = Pattern(300);
  buf.Write(bytes);

  char out[100];
  EXPECT_EQ(reader->CopyOut(out, 100, 120), 100);  // crosses the 128-byte boundary
  EXPECT_EQ(std::string(out, 100), bytes.substr(120, 100));
  EXPECT_EQ(reader->CopyOut(out, 100, 250), 50);
  EXPECT_EQ(std::string(out, 50), bytes.substr(250));
  EXPECT_EQ(reader->CopyOut(out, 100, 300), 0);
  EXPECT_EQ(reader->CopyOut(out, 100, -1), 0);
  EXPECT_EQ(reader->CopyOut(out, -1, 0), 0);
  EXPECT_EQ(reader->ReadAvail(), 300);

  reader->Consume(10);
  EXPECT_EQ(reader->CopyOut(out, 5, 0), 5);
  EXPECT_EQ(std::string(out, 5), bytes.substr(10, 5));
}

TEST(IOBufferTest, ConsumeMoreThanAvailableClampsToReadAvail) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  buf.Write(Pattern(200));
  reader->Consume(-7);
  EXPECT_EQ(reader->ReadAvail(), 200);
  reader->Consume(50);
  EXPECT_EQ(reader->ReadAvail(), 150);
  reader->Consume(1 << 30);
  EXPECT_EQ(reader->ReadAvail(), 0);
  reader->Consume(1);
  EXPECT_EQ(reader->ReadAvail(), 0);
  buf.Write("xyz");
  EXPECT_EQ(Contents(*reader), "xyz");
}

TEST(IOBufferTest, FindLocatesNeedleAcrossBlockBoundaries) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  // The terminator straddles the first 128-byte boundary: bytes 126..129.
  buf.Write(std::string(126, 'h') + "\r\n\r\n" + std::string(200, 'b'));
  EXPECT_EQ(reader->Find("\r\n\r\n"), 126);
  EXPECT_EQ(reader->Find("h\r"), 125);
  EXPECT_EQ(reader->Find("\nb"), 129);
  reader->Consume(100);
  EXPECT_EQ(reader->Find("\r\n\r\n"), 26);
}

TEST(IOBufferTest, FindSpanningManyBlocksAndFromOffsets) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string needle = Pattern(400, 'A');  // longer than three blocks
  buf.Write(std::string(50, '.') + needle + std::string(10, '.') + needle);
  EXPECT_EQ(reader->Find(needle), 50);
  EXPECT_EQ(reader->Find(needle, 51), 460);
  EXPECT_EQ(reader->Find(needle, 461), std::nullopt);
  EXPECT_EQ(reader->Find("not there"), std::nullopt);
  EXPECT_EQ(reader->Find("", 5), 5);
  EXPECT_EQ(reader->Find("", 861), std::nullopt);
  EXPECT_EQ(reader->Find(".", -4), 0);
}

TEST(IOBufferTest, FindOnEmptyReaderFindsNothing) {
  MIOBuffer buf;
  IOBufferReader* reader = buf.AllocReader();
  EXPECT_EQ(reader->Find("x"), std::nullopt);
  EXPECT_EQ(reader->Find(""), 0);
}

// --- Append by reference -------------------------------------------------------------------------

TEST(IOBufferTest, AppendFromSharesBytesWithoutCopying) {
  MIOBuffer src(0);
  IOBufferReader* src_reader = src.AllocReader();
  const std::string bytes = Pattern(300);
  src.Write(bytes);
  const std::vector<const char*> src_runs = RunStarts(*src_reader);
  ASSERT_EQ(src_runs.size(), 3u);

  MIOBuffer dst;
  IOBufferReader* dst_reader = dst.AllocReader();
  EXPECT_EQ(dst.AppendFrom(*src_reader, 200, 50), 200);
  EXPECT_EQ(Contents(*dst_reader), bytes.substr(50, 200));
  // The destination's runs point into the source's storage: same bytes, no copy.
  const std::vector<const char*> dst_runs = RunStarts(*dst_reader);
  ASSERT_EQ(dst_runs.size(), 2u);
  EXPECT_EQ(dst_runs[0], src_runs[0] + 50);
  EXPECT_EQ(dst_runs[1], src_runs[1]);
  // A clone never has write space, and the source reader is not consumed.
  EXPECT_EQ(dst.WriteAvail(), 0);
  EXPECT_EQ(src_reader->ReadAvail(), 300);
}

TEST(IOBufferTest, WritesToSourceAfterAppendFromDoNotChangeDestination) {
  MIOBuffer src;
  IOBufferReader* src_reader = src.AllocReader();
  src.Write("hello world");
  ASSERT_GT(src.WriteAvail(), 0);

  MIOBuffer dst;
  IOBufferReader* dst_reader = dst.AllocReader();
  EXPECT_EQ(dst.AppendFrom(*src_reader, 5, 6), 5);
  src.Write("!!! more bytes in the same block");
  src_reader->Consume(src_reader->ReadAvail());
  src.Write("and a new block");
  EXPECT_EQ(Contents(*dst_reader), "world");

  // The destination's own writes go to a new block, not after the shared bytes.
  dst.Write("?");
  EXPECT_EQ(Contents(*dst_reader), "world?");
  EXPECT_EQ(RunStarts(*dst_reader).size(), 2u);
}

TEST(IOBufferTest, AppendFromClampsToWhatTheReaderCanSee) {
  MIOBuffer src;
  IOBufferReader* src_reader = src.AllocReader();
  src.Write("0123456789");
  MIOBuffer dst;
  IOBufferReader* dst_reader = dst.AllocReader();
  EXPECT_EQ(dst.AppendFrom(*src_reader, 100, 4), 6);
  EXPECT_EQ(dst.AppendFrom(*src_reader, 5, 10), 0);
  EXPECT_EQ(dst.AppendFrom(*src_reader, 0), 0);
  EXPECT_EQ(dst.AppendFrom(*src_reader, -1), 0);
  EXPECT_EQ(dst.AppendFrom(*src_reader, 2, -3), 2);
  EXPECT_EQ(Contents(*dst_reader), "45678901");
}

TEST(IOBufferTest, AppendFromContiguousBytesWidensTheLastBlock) {
  MIOBuffer src;
  IOBufferReader* src_reader = src.AllocReader();
  MIOBuffer dst;
  IOBufferReader* dst_reader = dst.AllocReader();
  src.Write("abc");
  dst.AppendFrom(*src_reader, 3);
  src.Write("def");  // lands right after "abc" in the same storage
  dst.AppendFrom(*src_reader, 3, /*skip=*/3);
  EXPECT_EQ(Contents(*dst_reader), "abcdef");
  EXPECT_EQ(RunStarts(*dst_reader).size(), 1u);
}

TEST(IOBufferTest, AppendFromOwnReaderDuplicatesBytes) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string bytes = Pattern(200);
  buf.Write(bytes);
  EXPECT_EQ(buf.AppendFrom(*reader, 150, 20), 150);
  EXPECT_EQ(Contents(*reader), bytes + bytes.substr(20, 150));
}

// --- Memory held by a buffer ---------------------------------------------------------------------

TEST(IOBufferTest, NewBufferHoldsNoData) {
  MIOBuffer buf;
  EXPECT_FALSE(buf.HoldsData());
  buf.AllocReader();
  EXPECT_FALSE(buf.HoldsData());
  EXPECT_EQ(buf.WriteAvail(), 0);
}

TEST(IOBufferTest, FullyConsumedBufferHoldsNoData) {
  MIOBuffer buf(0);
  IOBufferReader* a = buf.AllocReader();
  IOBufferReader* b = buf.AllocReader();
  buf.Write(Pattern(1000));
  EXPECT_TRUE(buf.HoldsData());
  a->Consume(1000);
  EXPECT_TRUE(buf.HoldsData());  // b still needs the bytes
  b->Consume(999);
  EXPECT_TRUE(buf.HoldsData());
  b->Consume(1);
  EXPECT_FALSE(buf.HoldsData());
  EXPECT_EQ(buf.WriteAvail(), 0);

  // The buffer works as before afterwards, for every reader.
  buf.Write("next");
  EXPECT_EQ(Contents(*a), "next");
  EXPECT_EQ(Contents(*b), "next");
}

TEST(IOBufferTest, ConsumedBlocksAreReleasedWhileLaterBytesRemain) {
  TrimIOBufferFreeLists();
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  buf.Write(Pattern(128 * 3));
  const char* first = RunStarts(*reader)[0];
  reader->Consume(128);
  // The first block's storage went back to this thread's free list: it is handed out next.
  Ptr<IOBufferData> data = IOBufferData::Alloc(0);
  EXPECT_EQ(data->data(), first);
  EXPECT_EQ(reader->ReadAvail(), 256);
}

TEST(IOBufferTest, NoReaderMeansBufferKeepsEverythingForTheNextReader) {
  MIOBuffer buf(0);
  buf.Write(Pattern(500));
  EXPECT_TRUE(buf.HoldsData());
  EXPECT_EQ(buf.MaxReadAvail(), 500);
  IOBufferReader* reader = buf.AllocReader();
  EXPECT_EQ(Contents(*reader), Pattern(500));
}

TEST(IOBufferTest, DeallocatingLastReaderKeepsOnlyUnconsumedBytes) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string bytes = Pattern(500);
  buf.Write(bytes);
  reader->Consume(200);
  buf.DeallocReader(reader);
  EXPECT_EQ(buf.MaxReadAvail(), 300);
  IOBufferReader* next = buf.AllocReader();
  EXPECT_EQ(Contents(*next), bytes.substr(200));

  next->Consume(300);
  buf.DeallocReader(next);
  EXPECT_FALSE(buf.HoldsData());
}

// --- Readers -------------------------------------------------------------------------------------

TEST(IOBufferTest, AllocReaderBeyondMaxReturnsNullptrAndDeallocFreesASlot) {
  MIOBuffer buf;
  std::vector<IOBufferReader*> readers;
  for (int i = 0; i < MIOBuffer::kMaxReaders; ++i) {
    readers.push_back(buf.AllocReader());
    ASSERT_NE(readers.back(), nullptr);
    EXPECT_EQ(readers.back()->writer(), &buf);
  }
  EXPECT_EQ(buf.AllocReader(), nullptr);
  EXPECT_EQ(readers[0]->Clone(), nullptr);
  buf.DeallocReader(readers[2]);
  IOBufferReader* again = buf.AllocReader();
  EXPECT_EQ(again, readers[2]);
  EXPECT_EQ(buf.AllocReader(), nullptr);

  buf.DeallocAllReaders();
  for (int i = 0; i < MIOBuffer::kMaxReaders; ++i) EXPECT_NE(buf.AllocReader(), nullptr);
}

TEST(IOBufferTest, DeallocReaderIgnoresReadersOfOtherBuffers) {
  MIOBuffer a;
  MIOBuffer b;
  IOBufferReader* reader = b.AllocReader();
  b.Write("x");
  a.DeallocReader(reader);
  a.DeallocReader(nullptr);
  EXPECT_EQ(Contents(*reader), "x");
}

TEST(IOBufferTest, NewReaderStartsWhereTheEarliestReaderIs) {
  MIOBuffer buf(0);
  IOBufferReader* ahead = buf.AllocReader();
  IOBufferReader* behind = buf.AllocReader();
  const std::string bytes = Pattern(600);
  buf.Write(bytes);
  ahead->Consume(400);
  behind->Consume(150);
  IOBufferReader* fresh = buf.AllocReader();
  EXPECT_EQ(Contents(*fresh), bytes.substr(150));
}

TEST(IOBufferTest, ClonedReaderConsumesIndependently) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string bytes = Pattern(700);
  buf.Write(bytes);
  reader->Consume(100);
  IOBufferReader* clone = reader->Clone();
  ASSERT_NE(clone, nullptr);
  EXPECT_EQ(clone->writer(), &buf);
  EXPECT_EQ(Contents(*clone), bytes.substr(100));
  clone->Consume(500);
  EXPECT_EQ(Contents(*clone), bytes.substr(600));
  EXPECT_EQ(Contents(*reader), bytes.substr(100));
  reader->Consume(50);
  EXPECT_EQ(Contents(*reader), bytes.substr(150));
  EXPECT_EQ(buf.MaxReadAvail(), 550);
}

TEST(IOBufferTest, ReaderFillIovecsCoversReadableBytesWithoutCopying) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  const std::string bytes = Pattern(300);
  buf.Write(bytes);
  reader->Consume(28);
  const std::vector<const char*> runs = RunStarts(*reader);

  struct iovec iov[8];
  ASSERT_EQ(reader->FillIovecs(iov, 8, 1000), 3);
  EXPECT_EQ(iov[0].iov_base, runs[0]);
  EXPECT_EQ(iov[0].iov_len, 100u);
  EXPECT_EQ(iov[1].iov_len, 128u);
  EXPECT_EQ(iov[2].iov_len, 44u);
  std::string gathered;
  for (const struct iovec& v : iov) {
    if (&v == iov + 3) break;
    gathered.append(static_cast<const char*>(v.iov_base), v.iov_len);
  }
  EXPECT_EQ(gathered, bytes.substr(28));

  EXPECT_EQ(reader->FillIovecs(iov, 2, 1000), 2);
  ASSERT_EQ(reader->FillIovecs(iov, 8, 150), 2);
  EXPECT_EQ(iov[1].iov_len, 50u);
  EXPECT_EQ(reader->FillIovecs(iov, 8, 0), 0);
}

TEST(IOBufferTest, ForEachBlockStopsWhenTheCallbackSaysSo) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  buf.Write(Pattern(1000));
  int calls = 0;
  reader->ForEachBlock([&calls](absl::string_view) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
}

// --- Writer iovecs -------------------------------------------------------------------------------

TEST(IOBufferTest, WriterFillIovecsThenFillCommitsBytesWrittenInPlace) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  buf.Write("head");
  ASSERT_EQ(buf.WriteAvail(), 124);

  struct iovec iov[4];
  const int n = buf.FillIovecs(iov, 4, 300);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(iov[0].iov_len, 124u);  // the last block's write space first
  EXPECT_EQ(iov[1].iov_len, 128u);
  EXPECT_EQ(iov[2].iov_len, 48u);
  EXPECT_EQ(reader->ReadAvail(), 4);  // nothing is readable before Fill

  // memcpy stands in for readv: 200 bytes arrive.
  const std::string arrived = Pattern(200, 'K');
  int64_t copied = 0;
  for (int i = 0; i < n && copied < 200; ++i) {
    const int64_t k = std::min<int64_t>(iov[i].iov_len, 200 - copied);
    std::memcpy(iov[i].iov_base, arrived.data() + copied, k);
    copied += k;
  }
  EXPECT_EQ(buf.Fill(200), 200);
  EXPECT_EQ(Contents(*reader), "head" + arrived);
  EXPECT_EQ(buf.WriteAvail(), 128 - (200 - 124));
}

TEST(IOBufferTest, FillClampsToExposedBytesAndUnusedRegionsAreReleased) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  struct iovec iov[4];
  ASSERT_EQ(buf.FillIovecs(iov, 4, 1 << 20), 4);  // four new blocks
  EXPECT_TRUE(buf.HoldsData());
  EXPECT_EQ(buf.Fill(0), 0);  // readv said EAGAIN
  EXPECT_FALSE(buf.HoldsData());

  ASSERT_EQ(buf.FillIovecs(iov, 2, 100), 1);
  std::memset(iov[0].iov_base, 'z', iov[0].iov_len);
  EXPECT_EQ(buf.Fill(5000), 100);
  EXPECT_EQ(Contents(*reader), std::string(100, 'z'));
  EXPECT_EQ(buf.Fill(10), 0);  // nothing exposed any more
}

TEST(IOBufferTest, WriteWithdrawsRegionsExposedByFillIovecs) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  struct iovec iov[2];
  ASSERT_EQ(buf.FillIovecs(iov, 2, 256), 2);
  buf.Write("abc");
  EXPECT_EQ(buf.Fill(10), 0);
  EXPECT_EQ(Contents(*reader), "abc");
}

TEST(IOBufferTest, ConsumeWhileRegionsAreExposedKeepsThem) {
  MIOBuffer buf(0);
  IOBufferReader* reader = buf.AllocReader();
  buf.Write("abc");
  struct iovec iov[1];
  ASSERT_EQ(buf.FillIovecs(iov, 1, 10), 1);
  reader->Consume(3);
  std::memcpy(iov[0].iov_base, "defg", 4);
  EXPECT_EQ(buf.Fill(4), 4);
  EXPECT_EQ(Contents(*reader), "defg");
}

// --- Backpressure --------------------------------------------------------------------------------

TEST(IOBufferTest, HighWaterFlipsAroundTheWaterMark) {
  MIOBuffer buf;
  IOBufferReader* fast = buf.AllocReader();
  IOBufferReader* slow = buf.AllocReader();
  buf.set_water_mark(100);
  EXPECT_EQ(buf.water_mark(), 100);
  EXPECT_FALSE(buf.HighWater());
  buf.Write(Pattern(100));
  EXPECT_FALSE(buf.HighWater());  // exactly at the mark is not above it
  buf.Write("x");
  EXPECT_TRUE(buf.HighWater());
  fast->Consume(101);
  EXPECT_TRUE(buf.HighWater());  // the slowest reader decides
  EXPECT_EQ(buf.MaxReadAvail(), 101);
  slow->Consume(1);
  EXPECT_FALSE(buf.HighWater());
  EXPECT_EQ(buf.MaxReadAvail(), 100);
}

// --- Allocator -----------------------------------------------------------------------------------

TEST(IOBufferAllocatorTest, FreeListReusesMemoryOnTheSameThread) {
  constexpr int kClass = 3;
  TrimIOBufferFreeLists();
  Ptr<IOBufferData> first = IOBufferData::Alloc(kClass);
  EXPECT_EQ(first->size(), 1024);
  EXPECT_EQ(first->size_class(), kClass);
  const char* address = first->data();
  first = nullptr;

  const IOBufferAllocatorStats before = GetIOBufferAllocatorStats();
  Ptr<IOBufferData> second = IOBufferData::Alloc(kClass);
  const IOBufferAllocatorStats after = GetIOBufferAllocatorStats();
  EXPECT_EQ(second->data(), address);
  EXPECT_EQ(after.size_classes[kClass].reused - before.size_classes[kClass].reused, 1);
  EXPECT_EQ(after.size_classes[kClass].fresh - before.size_classes[kClass].fresh, 0);
  EXPECT_EQ(after.reused - before.reused, 1);
}

TEST(IOBufferAllocatorTest, TrimGivesCachedMemoryBackToTheSystem) {
  constexpr int kClass = 4;
  TrimIOBufferFreeLists();
  IOBufferData::Alloc(kClass);  // allocated and freed at once: parked on this thread
  const IOBufferAllocatorStats before = GetIOBufferAllocatorStats();
  TrimIOBufferFreeLists();
  const IOBufferAllocatorStats trimmed = GetIOBufferAllocatorStats();
  EXPECT_EQ(trimmed.size_classes[kClass].released - before.size_classes[kClass].released, 1);
  Ptr<IOBufferData> data = IOBufferData::Alloc(kClass);
  const IOBufferAllocatorStats after = GetIOBufferAllocatorStats();
  EXPECT_EQ(after.size_classes[kClass].fresh - trimmed.size_classes[kClass].fresh, 1);
}

TEST(IOBufferAllocatorTest, ThreadCacheIsBoundedAndOverflowsToTheGlobalPool) {
  constexpr int kClass = 13;  // 1 MiB: a thread keeps at most 4
  constexpr int kCount = 10;
  TrimIOBufferFreeLists();
  std::vector<Ptr<IOBufferData>> held;
  for (int i = 0; i < kCount; ++i) held.push_back(IOBufferData::Alloc(kClass));
  held.clear();
  const IOBufferAllocatorStats stats = GetIOBufferAllocatorStats();
  EXPECT_GE(stats.size_classes[kClass].global_pooled, kCount - 4);
  TrimIOBufferFreeLists();
  EXPECT_EQ(GetIOBufferAllocatorStats().size_classes[kClass].global_pooled, 0);
}

TEST(IOBufferAllocatorTest, DataFreedOnAnotherThreadIsReusedThereAndAfterItExits) {
  constexpr int kClass = 6;
  TrimIOBufferFreeLists();
  Ptr<IOBufferData> data = IOBufferData::Alloc(kClass);
  const char* const address = data->data();

  std::thread worker([d = std::move(data), address]() mutable {
    d = nullptr;  // the last reference goes on this thread: into its free list
    Ptr<IOBufferData> again = IOBufferData::Alloc(kClass);
    EXPECT_EQ(again->data(), address);
  });  // freed again at the end; the thread's cache goes to the global pool when it exits
  worker.join();

  const IOBufferAllocatorStats before = GetIOBufferAllocatorStats();
  EXPECT_GE(before.size_classes[kClass].global_pooled, 1);
  Ptr<IOBufferData> here = IOBufferData::Alloc(kClass);
  const IOBufferAllocatorStats after = GetIOBufferAllocatorStats();
  EXPECT_EQ(here->data(), address);
  EXPECT_EQ(after.size_classes[kClass].reused - before.size_classes[kClass].reused, 1);
  EXPECT_EQ(after.size_classes[kClass].fresh - before.size_classes[kClass].fresh, 0);
}

TEST(IOBufferAllocatorTest, BuffersUsedOnManyThreadsShareThePool) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      MIOBuffer buf(SizeClassFor(4096));
      IOBufferReader* reader = buf.AllocReader();
      const std::string chunk = Pattern(10000, static_cast<char>('a' + t));
      for (int i = 0; i < 200; ++i) {
        buf.Write(chunk);
        std::string out(chunk.size(), '\0');
        ASSERT_EQ(reader->Read(out.data(), out.size()), static_cast<int64_t>(chunk.size()));
        ASSERT_EQ(out, chunk);
      }
      EXPECT_FALSE(buf.HoldsData());
    });
  }
  for (std::thread& thread : threads) thread.join();
}

TEST(IOBufferAllocatorTest, WriteIntoFreeSpaceAndConsumeDoNotAllocate) {
  MIOBuffer buf;
  IOBufferReader* reader = buf.AllocReader();
  buf.Write("x");
  const IOBufferAllocatorStats before = GetIOBufferAllocatorStats();
  for (int i = 0; i < 1000; ++i) {
    buf.Write("0123456789");
    reader->Consume(10);
  }
  const IOBufferAllocatorStats after = GetIOBufferAllocatorStats();
  EXPECT_EQ(after.reused + after.fresh, before.reused + before.fresh);
  EXPECT_EQ(after.blocks_reused + after.blocks_fresh, before.blocks_reused + before.blocks_fresh);
}

TEST(IOBufferAllocatorTest, SteadyStateTrafficAllocatesNothingFromTheSystem) {
  MIOBuffer src(SizeClassFor(16384));
  IOBufferReader* src_reader = src.AllocReader();
  MIOBuffer dst;
  IOBufferReader* dst_reader = dst.AllocReader();
  const std::string chunk = Pattern(50000);
  auto round = [&] {
    src.Write(chunk);
    dst.AppendFrom(*src_reader, src_reader->ReadAvail());
    src_reader->Consume(src_reader->ReadAvail());
    dst_reader->Consume(dst_reader->ReadAvail());
  };
  round();  // warm the free lists
  const IOBufferAllocatorStats before = GetIOBufferAllocatorStats();
  for (int i = 0; i < 100; ++i) round();
  const IOBufferAllocatorStats after = GetIOBufferAllocatorStats();
  EXPECT_EQ(after.fresh, before.fresh);
  EXPECT_EQ(after.blocks_fresh, before.blocks_fresh);
  EXPECT_GT(after.reused, before.reused);
  EXPECT_FALSE(src.HoldsData());
  EXPECT_FALSE(dst.HoldsData());
}

// --- Randomized comparison with a std::string model ----------------------------------------------

// Model is what one reader should see: bytes[head..].
struct Model {
  std::string bytes;
  size_t head = 0;

  int64_t size() const { return static_cast<int64_t>(bytes.size() - head); }
  absl::string_view view() const { return absl::string_view(bytes).substr(head); }
  void Append(absl::string_view more) { bytes.append(more.data(), more.size()); }
  void Consume(int64_t n) {
    head += static_cast<size_t>(n);
    if (head > 4096 && head * 2 > bytes.size()) {
      bytes.erase(0, head);
      head = 0;
    }
  }
};

struct ModelReader {
  IOBufferReader* reader;
  Model model;
};

class RandomOps {
 public:
  explicit RandomOps(uint64_t seed) : rng_(seed) {}

  int64_t Uniform(int64_t n) { return n <= 0 ? 0 : static_cast<int64_t>(rng_() % n); }

  // Bytes from a small alphabet, so that Find finds things.
  std::string Bytes(int64_t len) {
    static constexpr char kAlphabet[] = "ab\r\n";
    std::string s(static_cast<size_t>(len), '\0');
    uint64_t bits = 0;
    for (int64_t i = 0; i < len; ++i) {
      if (i % 32 == 0) bits = rng_();
      s[i] = kAlphabet[bits & 3];
      bits >>= 2;
    }
    return s;
  }

  int64_t WriteSize() { return Uniform(10) < 6 ? Uniform(301) : Uniform(70001); }

 private:
  std::mt19937_64 rng_;
};

constexpr int kSizeClasses[] = {0, 1, 3, 8, 9};
constexpr int64_t kMaxHeld = 256 * 1024;

void CheckAgainstModel(const MIOBuffer& buf, const std::vector<ModelReader>& readers,
                       const Model& held) {
  int64_t max_avail = readers.empty() ? held.size() : 0;
  for (const ModelReader& r : readers) {
    ASSERT_EQ(r.reader->ReadAvail(), r.model.size());
    max_avail = std::max(max_avail, r.model.size());
  }
  ASSERT_EQ(buf.MaxReadAvail(), max_avail);
  ASSERT_EQ(buf.HoldsData(), max_avail > 0);
}

void RunRandomOps(uint64_t seed, int ops) {
  RandomOps rnd(seed);
  MIOBuffer src(kSizeClasses[rnd.Uniform(5)]);
  IOBufferReader* src_reader = src.AllocReader();
  Model src_model;
  MIOBuffer dst(kSizeClasses[rnd.Uniform(5)]);
  std::vector<ModelReader> readers = {{dst.AllocReader(), {}}};
  Model held;  // what dst holds while it has no reader

  auto append_to_dst = [&](absl::string_view bytes) {
    if (readers.empty()) held.Append(bytes);
    for (ModelReader& r : readers) r.model.Append(bytes);
  };

  for (int op = 0; op < ops; ++op) {
    const int64_t kind = rnd.Uniform(100);
    SCOPED_TRACE(absl::StrCat("op #", op, " kind ", kind));
    if (kind < 18) {  // write to dst, directly or through FillIovecs/Fill
      if (dst.MaxReadAvail() > kMaxHeld) continue;
      const std::string bytes = rnd.Bytes(rnd.WriteSize());
      if (rnd.Uniform(4) == 0 && !bytes.empty()) {
        struct iovec iov[8];
        const int n = dst.FillIovecs(iov, 8, static_cast<int64_t>(bytes.size()));
        int64_t exposed = 0;
        for (int i = 0; i < n; ++i) {
          std::memcpy(iov[i].iov_base, bytes.data() + exposed, iov[i].iov_len);
          exposed += static_cast<int64_t>(iov[i].iov_len);
        }
        const int64_t commit = rnd.Uniform(exposed + 1);
        ASSERT_EQ(dst.Fill(commit), commit);
        append_to_dst(absl::string_view(bytes).substr(0, commit));
      } else {
        ASSERT_EQ(dst.Write(bytes), static_cast<int64_t>(bytes.size()));
        append_to_dst(bytes);
      }
    } else if (kind < 32) {  // write to src
      if (src_model.size() > kMaxHeld) continue;
      const std::string bytes = rnd.Bytes(rnd.WriteSize());
      ASSERT_EQ(src.Write(bytes), static_cast<int64_t>(bytes.size()));
      src_model.Append(bytes);
    } else if (kind < 46) {  // append src to dst by reference
      if (dst.MaxReadAvail() > kMaxHeld) continue;
      const int64_t skip = rnd.Uniform(src_model.size() + 5);
      const int64_t len = rnd.Uniform(src_model.size() + 10);
      const int64_t expected = std::max<int64_t>(0, std::min(len, src_model.size() - skip));
      ASSERT_EQ(dst.AppendFrom(*src_reader, len, skip), expected);
      if (expected > 0) append_to_dst(src_model.view().substr(skip, expected));
      ASSERT_EQ(src_reader->ReadAvail(), src_model.size());
      if (rnd.Uniform(2) == 0) {
        const int64_t n = rnd.Uniform(src_model.size() + 1);
        src_reader->Consume(n);
        src_model.Consume(n);
      }
    } else if (kind < 48) {  // append dst to itself by reference
      if (readers.empty() || dst.MaxReadAvail() > kMaxHeld) continue;
      const ModelReader& r = readers[rnd.Uniform(readers.size())];
      const int64_t skip = rnd.Uniform(r.model.size() + 1);
      const int64_t len = rnd.Uniform(r.model.size() + 1);
      const int64_t expected = std::max<int64_t>(0, std::min(len, r.model.size() - skip));
      const std::string appended(r.model.view().substr(skip, expected));
      ASSERT_EQ(dst.AppendFrom(*r.reader, len, skip), expected);
      append_to_dst(appended);
    } else if (kind < 66) {  // consume, sometimes more than available
      if (readers.empty()) continue;
      ModelReader& r = readers[rnd.Uniform(readers.size())];
      const int64_t n =
          rnd.Uniform(3) == 0 ? r.model.size() + rnd.Uniform(3) : rnd.Uniform(r.model.size() + 1);
      r.reader->Consume(n);
      r.model.Consume(std::min(n, r.model.size()));
    } else if (kind < 74) {  // CopyOut at an offset
      if (readers.empty()) continue;
      const ModelReader& r = readers[rnd.Uniform(readers.size())];
      const int64_t offset = rnd.Uniform(r.model.size() + 3);
      const int64_t len = rnd.Uniform(r.model.size() + 3) % (rnd.Uniform(4) == 0 ? kMaxHeld : 5000);
      std::string out(static_cast<size_t>(len), '\0');
      const int64_t expected = std::max<int64_t>(0, std::min(len, r.model.size() - offset));
      ASSERT_EQ(r.reader->CopyOut(out.data(), len, offset), expected);
      ASSERT_EQ(absl::string_view(out).substr(0, expected),
                r.model.view().substr(std::min(offset, r.model.size()), expected));
    } else if (kind < 82) {  // Find
      if (readers.empty()) continue;
      const ModelReader& r = readers[rnd.Uniform(readers.size())];
      std::string needle;
      if (r.model.size() > 0 && rnd.Uniform(3) != 0) {
        const int64_t at = rnd.Uniform(r.model.size());
        needle = std::string(r.model.view().substr(at, 1 + rnd.Uniform(8)));
      } else {
        needle = rnd.Bytes(1 + rnd.Uniform(6));
      }
      const int64_t from = rnd.Uniform(r.model.size() + 2);
      const size_t want = r.model.view().find(needle, from);
      const std::optional<int64_t> got = r.reader->Find(needle, from);
      if (want == absl::string_view::npos) {
        ASSERT_EQ(got, std::nullopt) << "needle size " << needle.size() << " from " << from;
      } else {
        ASSERT_EQ(got, static_cast<int64_t>(want)) << "needle size " << needle.size();
      }
    } else if (kind < 86) {  // clone a reader
      if (readers.empty()) continue;
      const ModelReader& r = readers[rnd.Uniform(readers.size())];
      IOBufferReader* clone = r.reader->Clone();
      if (readers.size() == MIOBuffer::kMaxReaders) {
        ASSERT_EQ(clone, nullptr);
      } else {
        ASSERT_NE(clone, nullptr);
        readers.push_back({clone, r.model});
      }
    } else if (kind < 90) {  // deallocate a reader
      if (readers.empty()) continue;
      const size_t i = rnd.Uniform(readers.size());
      if (readers.size() == 1) held = readers[i].model;
      dst.DeallocReader(readers[i].reader);
      readers.erase(readers.begin() + i);
    } else if (kind < 99) {  // allocate a reader
      IOBufferReader* reader = dst.AllocReader();
      if (readers.size() == MIOBuffer::kMaxReaders) {
        ASSERT_EQ(reader, nullptr);
        continue;
      }
      ASSERT_NE(reader, nullptr);
      Model model = held;
      for (const ModelReader& r : readers) {
        if (r.model.size() > model.size() || &r == &readers[0]) model = r.model;
      }
      readers.push_back({reader, std::move(model)});
    } else {  // compare every byte, through ForEachBlock and through iovecs
      for (const ModelReader& r : readers) {
        ASSERT_EQ(Contents(*r.reader), r.model.view());
        struct iovec iov[16];
        const int n = r.reader->FillIovecs(iov, 16, 1 << 30);
        std::string gathered;
        for (int i = 0; i < n; ++i) {
          gathered.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
        }
        ASSERT_EQ(gathered, r.model.view().substr(0, gathered.size()));
      }
      ASSERT_EQ(Contents(*src_reader), src_model.view());
    }
    ASSERT_NO_FATAL_FAILURE(CheckAgainstModel(dst, readers, held));
    ASSERT_EQ(src_reader->ReadAvail(), src_model.size());
    ASSERT_EQ(src.HoldsData(), src_model.size() > 0);
  }
  for (const ModelReader& r : readers) ASSERT_EQ(Contents(*r.reader), r.model.view());
}

TEST(IOBufferRandomTest, RandomOperationsMatchAStringModelPerReader) {
  constexpr uint64_t kFirstSeed = 1;
  constexpr int kSeeds = 20;
  constexpr int kOpsPerSeed = 2000;
  for (uint64_t seed = kFirstSeed; seed < kFirstSeed + kSeeds; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    RunRandomOps(seed, kOpsPerSeed);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tollgate
