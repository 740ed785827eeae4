// IOBuffer: the byte queues every connection reads into and writes out of.
//
// Bytes live in IOBufferData: pooled, reference-counted storage of one of fifteen size classes
// (128 B to 2 MiB). An IOBufferBlock is a window [start, end) on one IOBufferData, plus the limit
// buf_end that writes may reach, and a link to the next block. An MIOBuffer is the single writer
// of a chain of blocks; up to kMaxReaders IOBufferReaders, owned by the MIOBuffer, each consume
// the chain at their own pace. Bytes can be moved from one buffer to another by reference:
// AppendFrom clones blocks so that both buffers share the same IOBufferData and no byte is
// copied. A block that shares its bytes never has write space, so two writers can never write
// into the same bytes.
//
// Memory is released as soon as no reader needs it: blocks every reader has consumed are dropped
// at once, and a buffer whose readers have consumed everything holds no IOBufferData at all, so an
// idle connection holds no buffer memory. IOBufferData goes back to a per-thread free list and is
// handed out again without a system allocation.
//
//   MIOBuffer buf;                        // 32 KiB blocks
//   IOBufferReader* reader = buf.AllocReader();
//   buf.Write("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
//   if (std::optional<int64_t> end = reader->Find("\r\n\r\n")) {
//     MIOBuffer out;
//     out.AppendFrom(*reader, *end + 4);  // by reference: no byte copied
//     reader->Consume(*end + 4);
//   }
//
// Threads: an MIOBuffer and its readers are used by one thread at a time (the thread holding the
// session's mutex). IOBufferData and IOBufferBlock references may be dropped on any thread; the
// memory then goes to that thread's free list.

#ifndef TOLLGATE_IOCORE_EVENTSYSTEM_IO_BUFFER_H_
#define TOLLGATE_IOCORE_EVENTSYSTEM_IO_BUFFER_H_

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <optional>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "iocore/eventsystem/ref_counted.h"

namespace tollgate {

// --- Size classes --------------------------------------------------------------------------------

// kNumSizeClasses is the number of IOBufferData sizes: 128 B * 2^k for k = 0..14.
inline constexpr int kNumSizeClasses = 15;

// kMinSizeClassBytes is the size of the smallest class, index 0.
inline constexpr int64_t kMinSizeClassBytes = 128;

// SizeClassBytes returns the number of bytes of size class |index|. An index out of [0,
// kNumSizeClasses) is clamped into it.
constexpr int64_t SizeClassBytes(int index) {
  if (index < 0) index = 0;
  if (index >= kNumSizeClasses) index = kNumSizeClasses - 1;
  return kMinSizeClassBytes << index;
}

// SizeClassFor returns the index of the smallest size class holding |bytes| bytes, or of the
// largest class (2 MiB) when none does. Zero and negative sizes give class 0.
constexpr int SizeClassFor(int64_t bytes) {
  int index = 0;
  while (index < kNumSizeClasses - 1 && SizeClassBytes(index) < bytes) ++index;
  return index;
}

// kDefaultSizeClass is the block size class of an MIOBuffer built without one: 32 KiB.
inline constexpr int kDefaultSizeClass = SizeClassFor(32 * 1024);
static_assert(SizeClassBytes(kDefaultSizeClass) == 32 * 1024);

// --- Allocator statistics ------------------------------------------------------------------------

// IOBufferAllocatorStats counts, process-wide and since start-up, where IOBufferData and
// IOBufferBlock objects came from.
struct IOBufferAllocatorStats {
  struct SizeClass {
    int64_t reused = 0;  // allocations served from a free list
    int64_t fresh = 0;  // allocations that went to the system allocator
    int64_t released = 0;  // IOBufferData given back to the system allocator
    int64_t global_pooled = 0;  // IOBufferData parked in the global pool right now
  };
  std::array<SizeClass, kNumSizeClasses> size_classes;
  // Sums over |size_classes|.
  int64_t reused = 0;
  int64_t fresh = 0;
  int64_t released = 0;
  // IOBufferBlock objects, which are pooled per thread as well.
  int64_t blocks_reused = 0;
  int64_t blocks_fresh = 0;
};

// GetIOBufferAllocatorStats returns a snapshot of the allocator counters. Counters of other
// threads are read without stopping them, so a snapshot taken while they allocate is approximate.
// It may be called from any thread.
IOBufferAllocatorStats GetIOBufferAllocatorStats();

// TrimIOBufferFreeLists gives back to the system allocator every IOBufferData and IOBufferBlock
// cached by the calling thread, and every IOBufferData in the global pool. Free lists of other
// threads are left alone. It may be called from any thread, e.g. at shutdown.
void TrimIOBufferFreeLists();

// --- IOBufferData --------------------------------------------------------------------------------

// IOBufferData is a reference-counted array of SizeClassBytes(size_class()) bytes. It is shared
// for real: every block that sees its bytes, in any number of buffers, holds a reference. When the
// last reference goes, the memory returns to the free list of the thread that dropped it.
class IOBufferData final : public RefCounted {
 public:
  // Alloc returns a new IOBufferData of size class |size_class| (clamped into range), taken from
  // the calling thread's free list when it has one, from the system otherwise. Its contents are
  // unspecified. The caller owns the returned reference. It never fails (allocation failure
  // terminates the process, as with operator new).
  static Ptr<IOBufferData> Alloc(int size_class);

  // data returns the first byte of the storage. It stays valid while a reference is held.
  char* data() { return reinterpret_cast<char*>(this) + kHeaderBytes; }
  const char* data() const { return reinterpret_cast<const char*>(this) + kHeaderBytes; }

  // size returns the number of bytes at data().
  int64_t size() const { return SizeClassBytes(size_class_); }

  // size_class returns the size class index of this storage.
  int size_class() const { return size_class_; }

 private:
  friend class IOBufferPool;

  // The payload follows the header in the same allocation, on its own cache line.
  static constexpr int64_t kHeaderBytes = 64;

  explicit IOBufferData(int size_class) : size_class_(size_class) {}
  ~IOBufferData() override = default;

  // Free returns the storage to the calling thread's free list instead of deleting it.
  void Free() override;

  const int size_class_;
  IOBufferData* free_next_ = nullptr;  // link while parked in a free list
};

// --- IOBufferBlock -------------------------------------------------------------------------------

// IOBufferBlock is a window [start, end) of readable bytes on an IOBufferData, with write space
// [end, buf_end), and a link to the next block of a chain. Blocks are reference-counted so that a
// chain can be released from its head while readers still walk it, and are pooled per thread
// like IOBufferData (see io_buffer.cc for why). Only MIOBuffer moves a block's window.
class IOBufferBlock final : public RefCounted {
 public:
  // Alloc returns a new block on a new IOBufferData of class |size_class|, with no readable
  // bytes and the whole storage as write space. The caller owns the returned reference.
  static Ptr<IOBufferBlock> Alloc(int size_class);

  // Clone returns a new block on the same IOBufferData, with the same readable window, no write
  // space (buf_end == end) and no next block. No byte is copied. The caller owns the returned
  // reference.
  Ptr<IOBufferBlock> Clone() const;

  // start returns the first readable byte.
  const char* start() const { return start_; }
  // end returns one past the last readable byte, which is also the first writable byte.
  const char* end() const { return end_; }
  // buf_end returns one past the last writable byte.
  const char* buf_end() const { return buf_end_; }
  // read_avail returns end() - start().
  int64_t read_avail() const { return end_ - start_; }
  // write_avail returns buf_end() - end().
  int64_t write_avail() const { return buf_end_ - end_; }
  // data returns the storage this block is a window on; the block holds a reference to it.
  IOBufferData* data() const { return data_.get(); }
  // next returns the following block of the chain, or nullptr. This block holds a reference to it.
  IOBufferBlock* next() const { return next_.get(); }

 private:
  friend class IOBufferPool;
  friend class IOBufferReader;
  friend class MIOBuffer;

  IOBufferBlock() = default;
  ~IOBufferBlock() override = default;

  // Free drops the data and the rest of the chain (without recursing down it) and returns the
  // block object to the calling thread's free list.
  void Free() override;

  Ptr<IOBufferData> data_;
  char* start_ = nullptr;
  char* end_ = nullptr;
  char* buf_end_ = nullptr;
  Ptr<IOBufferBlock> next_;
  IOBufferBlock* free_next_ = nullptr;  // link while parked in a free list
};

// --- IOBufferReader ------------------------------------------------------------------------------

class MIOBuffer;

// IOBufferReader is one consumer of an MIOBuffer's bytes. Readers are owned by their MIOBuffer
// (MIOBuffer::AllocReader) and stay valid until MIOBuffer::DeallocReader or the MIOBuffer's
// destruction. Offsets are relative to the reader's current position. A reader is used on the
// thread that uses its MIOBuffer.
class IOBufferReader {
 public:
  IOBufferReader(const IOBufferReader&) = delete;
  IOBufferReader& operator=(const IOBufferReader&) = delete;

  // ReadAvail returns the number of bytes this reader has not consumed yet.
  int64_t ReadAvail() const;

  // IsReadAvailMoreThan returns whether ReadAvail() > |n|.
  bool IsReadAvailMoreThan(int64_t n) const { return ReadAvail() > n; }

  // Consume advances the reader by |n| bytes. |n| is clamped into [0, ReadAvail()]. Blocks no
  // reader needs any more are released; when every reader has consumed everything, the buffer
  // releases all its storage. It does not allocate.
  void Consume(int64_t n);

  // CopyOut copies up to |len| bytes, starting |offset| bytes after the reader's position, to
  // |dst| without consuming them. It returns the number of bytes copied: min(len, ReadAvail() -
  // offset), or 0 when there are none or |len| or |offset| is negative.
  int64_t CopyOut(void* dst, int64_t len, int64_t offset = 0) const;

  // Read is CopyOut(dst, len) followed by Consume of the bytes copied. It returns their number.
  int64_t Read(void* dst, int64_t len);

  // Find returns the offset of the first occurrence of |needle| that starts at or after offset
  // |from|, searching across block boundaries, or nullopt when there is none. An empty needle is
  // found at |from| if from <= ReadAvail(). A negative |from| is taken as 0.
  std::optional<int64_t> Find(absl::string_view needle, int64_t from = 0) const;

  // FillIovecs points up to |max_iov| entries of |iov| at the readable bytes, in order, covering
  // at most |max_bytes| bytes, for a writev without copying. It returns the number of entries
  // filled. The regions stay valid until the reader consumes them or is deallocated.
  int FillIovecs(struct iovec* iov, int max_iov, int64_t max_bytes) const;

  // ForEachBlock calls |fn| with each non-empty run of readable bytes, in order, until |fn|
  // returns false or the bytes run out. The views are valid for the duration of the call.
  void ForEachBlock(absl::FunctionRef<bool(absl::string_view)> fn) const;

  // Clone returns a new reader of the same MIOBuffer at the same position, or nullptr when the
  // buffer has no free reader slot. The MIOBuffer owns it.
  IOBufferReader* Clone();

  // writer returns the MIOBuffer this reader belongs to.
  MIOBuffer* writer() const { return writer_; }

 private:
  friend class MIOBuffer;

  IOBufferReader() = default;

  MIOBuffer* writer_ = nullptr;
  // Current block; nullptr exactly when the buffer holds no blocks. Kept alive by the chain.
  IOBufferBlock* block_ = nullptr;
  int64_t offset_ = 0;  // bytes of block_'s window already consumed
  int64_t pos_ = 0;  // stream position: bytes consumed since the buffer was created
  bool allocated_ = false;
};

// --- MIOBuffer -----------------------------------------------------------------------------------

// MIOBuffer is the writer of a chain of blocks and the owner of its readers. It has one owner
// and is used by one thread at a time.
class MIOBuffer {
 public:
  // kMaxReaders is the number of readers one buffer can have at once.
  static constexpr int kMaxReaders = 5;

  // MIOBuffer makes an empty buffer that adds blocks of size class |size_class| (clamped into
  // range) as it needs them. It holds no storage until something is written.
  explicit MIOBuffer(int size_class = kDefaultSizeClass);

  // ~MIOBuffer drops the buffer's references to its blocks and ends its readers. Bytes appended
  // by reference to other buffers stay valid there.
  ~MIOBuffer();

  MIOBuffer(const MIOBuffer&) = delete;
  MIOBuffer& operator=(const MIOBuffer&) = delete;

  // Write copies |len| bytes from |data| to the end of the buffer, adding blocks as needed, and
  // returns |len| (0 when |len| is negative). Writing into existing write space does not allocate.
  int64_t Write(const void* data, int64_t len);

  // Write copies |bytes| to the end of the buffer and returns their number.
  int64_t Write(absl::string_view bytes) { return Write(bytes.data(), bytes.size()); }

  // AppendFrom appends, by reference, up to |len| bytes that |reader| can see after skipping
  // |skip| of them: the blocks are cloned and share storage with |reader|'s buffer, and no byte is
  // copied. |reader| is not consumed. It returns the number of bytes appended: min(len,
  // reader.ReadAvail() - skip), or 0 when that is not positive. Later writes to |reader|'s buffer
  // do not change what was appended. The write space left in this buffer's last block is given
  // up, so the next Write starts a new block.
  int64_t AppendFrom(const IOBufferReader& reader, int64_t len, int64_t skip = 0);

  // WriteAvail returns the write space left in the last block: how much Write can take without
  // allocating.
  int64_t WriteAvail() const;

  // FillIovecs exposes write space for a readv straight into the buffer: it points up to
  // |max_iov| entries of |iov| at writable regions in order, first the last block's write space,
  // then new blocks it allocates, covering at most |max_bytes| bytes. It returns the number of
  // entries filled. The bytes become readable only when committed with Fill, which must come
  // before any other Write, AppendFrom or FillIovecs on this buffer (those withdraw the regions).
  int FillIovecs(struct iovec* iov, int max_iov, int64_t max_bytes);

  // Fill commits the first |n| bytes of the regions the last FillIovecs exposed, as if written,
  // and releases the new blocks that got no byte. |n| is clamped into [0, bytes exposed]. It
  // returns the number of bytes committed.
  int64_t Fill(int64_t n);

  // set_water_mark sets the backpressure threshold used by HighWater.
  void set_water_mark(int64_t water_mark) { water_mark_ = water_mark; }
  // water_mark returns the backpressure threshold; 0 by default.
  int64_t water_mark() const { return water_mark_; }

  // MaxReadAvail returns the largest ReadAvail() over the readers, or, when there is no reader,
  // the number of bytes the buffer holds.
  int64_t MaxReadAvail() const;

  // HighWater returns whether MaxReadAvail() > water_mark(): the writer should stop.
  bool HighWater() const { return MaxReadAvail() > water_mark_; }

  // AllocReader returns a new reader, or nullptr when kMaxReaders are allocated. The reader sees
  // every byte the earliest existing reader has not consumed, or every byte the buffer holds when
  // there is no reader. The buffer owns the reader.
  IOBufferReader* AllocReader();

  // DeallocReader returns |reader|'s slot to the buffer; |reader| must not be used afterwards.
  // Bytes no remaining reader needs are released. When the last reader goes, the bytes it had
  // consumed are dropped and the bytes it had not are kept for the next reader. A reader that is
  // not an allocated reader of this buffer is ignored.
  void DeallocReader(IOBufferReader* reader);

  // DeallocAllReaders deallocates every reader.
  void DeallocAllReaders();

  // HoldsData returns whether the buffer holds any storage: blocks with bytes some reader (or a
  // future reader) has not consumed, or regions exposed by FillIovecs and not yet committed.
  bool HoldsData() const { return head_ != nullptr || pending_ != nullptr; }

  // size_class returns the size class of the blocks Write and FillIovecs add.
  int size_class() const { return size_class_; }

 private:
  friend class IOBufferReader;

  int ReaderCount() const;
  const IOBufferReader* EarliestReader() const;
  IOBufferReader* FreeSlot();
  bool AnyReaderOn(const IOBufferBlock* block) const;
  void LinkBlock(Ptr<IOBufferBlock> block);
  void AppendRef(const IOBufferBlock& source, const char* start, int64_t len);
  void DropPending();
  void TrimHead();
  void ReleaseIfDrained();
  void ReleaseAll();
  void OnConsumed(const IOBufferReader& reader, const IOBufferBlock* old_block);

  const int size_class_;
  int64_t water_mark_ = 0;
  // The chain: head_ is the first block any reader (or, with none, a future reader) needs; tail_
  // is the last block, the only one with write space. Both null when the buffer holds nothing.
  Ptr<IOBufferBlock> head_;
  IOBufferBlock* tail_ = nullptr;
  int64_t head_pos_ = 0;  // stream position of head_->start()
  int64_t write_pos_ = 0;  // stream position of tail_->end(): bytes written since creation
  // Blocks allocated by FillIovecs and not yet linked; prepared_ is the bytes exposed in all.
  Ptr<IOBufferBlock> pending_;
  int64_t prepared_ = 0;
  // A C array, not std::array: IOBufferReader's constructor is private to MIOBuffer.
  IOBufferReader readers_[kMaxReaders];
};

inline int64_t IOBufferReader::ReadAvail() const { return writer_->write_pos_ - pos_; }

}  // namespace tollgate

#endif  // TOLLGATE_IOCORE_EVENTSYSTEM_IO_BUFFER_H_
