#include "iocore/eventsystem/io_buffer.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace tollgate {
namespace {

// Payloads start on their own cache line (IOBufferData::kHeaderBytes after the header).
constexpr std::align_val_t kDataAlignment{64};

// Per-thread cache bound: at most max(4, 4 MiB / size) IOBufferData of one class. Overflow and
// refill move batches of at most kMaxBatch, so the global lock is taken once per batch, not once
// per buffer, and the walk done under it stays short.
constexpr int64_t kThreadCacheBytes = int64_t{4} << 20;
constexpr int64_t kMinThreadCacheEntries = 4;
constexpr int64_t kMaxBatch = 32;

// Global pool bound per class; beyond it memory goes back to the system.
constexpr int64_t kGlobalPoolBytes = int64_t{64} << 20;

// IOBufferBlock objects are pooled per thread only, up to this many. A block is 64 bytes, so the
// bound is 256 KiB a thread. Blocks are pooled, rather than left to new/delete, because every
// Write that starts a block and every AppendFrom makes one: pooling keeps the steady state of the
// data path off the system allocator, which the benchmarks check with the stats. They need no
// global tier: a block freed on another thread simply joins that thread's list.
constexpr int64_t kMaxCachedBlocks = 4096;

int ClampSizeClass(int size_class) { return std::clamp(size_class, 0, kNumSizeClasses - 1); }

int64_t ThreadCacheLimit(int size_class) {
  return std::max(kMinThreadCacheEntries, kThreadCacheBytes / SizeClassBytes(size_class));
}

int64_t BatchSize(int size_class) {
  return std::clamp<int64_t>(ThreadCacheLimit(size_class) / 2, 1, kMaxBatch);
}

int64_t GlobalPoolLimit(int size_class) {
  return std::max<int64_t>(1, kGlobalPoolBytes / SizeClassBytes(size_class));
}

// Counters of a thread cache are written only by their thread and read by
// GetIOBufferAllocatorStats from any thread: a relaxed load and store, not a locked add, is enough.
void Bump(std::atomic<int64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Seek returns the block holding byte |*offset| of the window run starting at |block|, and sets
// |*offset| to that byte's offset in the returned block's window. The byte must exist.
const IOBufferBlock* Seek(const IOBufferBlock* block, int64_t* offset) {
  while (block != nullptr && *offset >= block->read_avail()) {
    *offset -= block->read_avail();
    block = block->next();
  }
  return block;
}

// MatchesAt returns whether |needle| occurs at |at|, a byte of |block|'s window, reading on into
// the following blocks as needed.
bool MatchesAt(const IOBufferBlock* block, const char* at, absl::string_view needle) {
  size_t matched = 0;
  while (matched < needle.size()) {
    const int64_t in_block = block->end() - at;
    if (in_block <= 0) {
      block = block->next();
      if (block == nullptr) return false;
      at = block->start();
      continue;
    }
    const size_t n = std::min<size_t>(in_block, needle.size() - matched);
    if (std::memcmp(at, needle.data() + matched, n) != 0) return false;
    matched += n;
    at += n;
  }
  return true;
}

}  // namespace

// IOBufferPool is the allocator behind IOBufferData and IOBufferBlock: per-thread free lists in
// front of a global, mutex-protected pool per size class.
class IOBufferPool {
 public:
  // A singly linked list of parked IOBufferData, through free_next_.
  struct DataList {
    IOBufferData* head = nullptr;
    IOBufferData* tail = nullptr;
    int64_t count = 0;
  };

  // One thread's free lists. Created on the thread's first allocation or free; its destructor
  // (at thread exit) gives the IOBufferData back to the global pool.
  struct ThreadCache {
    ThreadCache();
    ~ThreadCache();

    DataList data[kNumSizeClasses];
    IOBufferBlock* blocks = nullptr;
    int64_t block_count = 0;
    std::atomic<int64_t> reused[kNumSizeClasses] = {};
    std::atomic<int64_t> fresh[kNumSizeClasses] = {};
    std::atomic<int64_t> blocks_reused{0};
    std::atomic<int64_t> blocks_fresh{0};
  };

  struct GlobalClass {
    std::mutex mu;
    // All guarded by mu.
    DataList list;
    int64_t released = 0;
    // Allocations made on a thread whose cache is already destroyed (late thread exit).
    int64_t reused = 0;
    int64_t fresh = 0;
  };

  struct Global {
    GlobalClass classes[kNumSizeClasses];
    std::mutex registry_mu;
    // Guarded by registry_mu: live thread caches, and the counters of the ones gone.
    std::vector<ThreadCache*> caches;
    int64_t gone_reused[kNumSizeClasses] = {};
    int64_t gone_fresh[kNumSizeClasses] = {};
    int64_t gone_blocks_reused = 0;
    int64_t gone_blocks_fresh = 0;
  };

  // GetGlobal returns the process-wide pool. It is leaked on purpose: IOBufferData may be freed
  // by static destructors and by thread exits after main returns, so it must outlive them all.
  static Global& GetGlobal() {
    static Global* global = new Global;
    return *global;
  }

  static Ptr<IOBufferData> AllocData(int size_class);
  static void FreeData(IOBufferData* data);
  static Ptr<IOBufferBlock> AllocBlock();
  static void FreeBlock(IOBufferBlock* block);
  static IOBufferAllocatorStats Stats();
  static void Trim();

  // ThreadCache plumbing.
  static void FlushThreadCache(ThreadCache& cache);

 private:
  static IOBufferData* NewData(int size_class) {
    static_assert(sizeof(IOBufferData) <= IOBufferData::kHeaderBytes);
    void* memory =
        ::operator new(IOBufferData::kHeaderBytes + SizeClassBytes(size_class), kDataAlignment);
    return new (memory) IOBufferData(size_class);
  }

  static void DeleteData(IOBufferData* data) {
    data->~IOBufferData();
    ::operator delete(data, kDataAlignment);
  }

  static void Push(DataList& list, IOBufferData* data) {
    data->free_next_ = list.head;
    list.head = data;
    if (list.tail == nullptr) list.tail = data;
    ++list.count;
  }

  static IOBufferData* Pop(DataList& list) {
    IOBufferData* data = list.head;
    if (data == nullptr) return nullptr;
    list.head = data->free_next_;
    data->free_next_ = nullptr;
    if (list.head == nullptr) list.tail = nullptr;
    --list.count;
    return data;
  }

  // TakeFront detaches and returns up to |n| entries from the front of |list|.
  static DataList TakeFront(DataList& list, int64_t n) {
    DataList out;
    if (n <= 0 || list.head == nullptr) return out;
    IOBufferData* last = list.head;
    int64_t taken = 1;
    while (taken < n && last->free_next_ != nullptr) {
      last = last->free_next_;
      ++taken;
    }
    out.head = list.head;
    out.tail = last;
    out.count = taken;
    list.head = last->free_next_;
    last->free_next_ = nullptr;
    if (list.head == nullptr) list.tail = nullptr;
    list.count -= taken;
    return out;
  }

  // Splice moves all of |from| to the front of |to|.
  static void Splice(DataList& to, DataList& from) {
    if (from.head == nullptr) return;
    from.tail->free_next_ = to.head;
    if (to.head == nullptr) to.tail = from.tail;
    to.head = from.head;
    to.count += from.count;
    from = DataList();
  }

  static int64_t DeleteAll(DataList& list) {
    int64_t n = 0;
    while (IOBufferData* data = Pop(list)) {
      DeleteData(data);
      ++n;
    }
    return n;
  }

  // GiveToGlobal parks |list| (all of class |size_class|) in the global pool, and frees what
  // does not fit under its bound.
  static void GiveToGlobal(int size_class, DataList& list) {
    GlobalClass& g = GetGlobal().classes[size_class];
    DataList excess;
    {
      std::lock_guard<std::mutex> lock(g.mu);
      const int64_t room = GlobalPoolLimit(size_class) - g.list.count;
      DataList fits;
      if (list.count <= room) {
        fits = list;
        list = DataList();
      } else {
        fits = TakeFront(list, room);
      }
      Splice(g.list, fits);
      excess = list;
      list = DataList();
      g.released += excess.count;
    }
    DeleteAll(excess);
  }

  static void Refill(int size_class, DataList& list) {
    GlobalClass& g = GetGlobal().classes[size_class];
    DataList taken;
    {
      std::lock_guard<std::mutex> lock(g.mu);
      taken = TakeFront(g.list, BatchSize(size_class));
    }
    Splice(list, taken);
  }
};

namespace {

// tls_cache_gone is set when this thread's cache has been destroyed; frees after that (from other
// thread_local destructors) go straight to the global pool. A bool with constant initialization
// is usable at any point of the thread's life, unlike tls_cache itself.
thread_local bool tls_cache_gone = false;
thread_local IOBufferPool::ThreadCache tls_cache;

}  // namespace

IOBufferPool::ThreadCache::ThreadCache() {
  Global& global = GetGlobal();
  std::lock_guard<std::mutex> lock(global.registry_mu);
  global.caches.push_back(this);
}

IOBufferPool::ThreadCache::~ThreadCache() {
  tls_cache_gone = true;
  FlushThreadCache(*this);
  Global& global = GetGlobal();
  std::lock_guard<std::mutex> lock(global.registry_mu);
  global.caches.erase(std::find(global.caches.begin(), global.caches.end(), this));
  for (int i = 0; i < kNumSizeClasses; ++i) {
    global.gone_reused[i] += reused[i].load(std::memory_order_relaxed);
    global.gone_fresh[i] += fresh[i].load(std::memory_order_relaxed);
  }
  global.gone_blocks_reused += blocks_reused.load(std::memory_order_relaxed);
  global.gone_blocks_fresh += blocks_fresh.load(std::memory_order_relaxed);
}

void IOBufferPool::FlushThreadCache(ThreadCache& cache) {
  for (int i = 0; i < kNumSizeClasses; ++i) GiveToGlobal(i, cache.data[i]);
  while (IOBufferBlock* block = cache.blocks) {
    cache.blocks = block->free_next_;
    delete block;
  }
  cache.block_count = 0;
}

Ptr<IOBufferData> IOBufferPool::AllocData(int size_class) {
  size_class = ClampSizeClass(size_class);
  if (!tls_cache_gone) {
    ThreadCache& cache = tls_cache;
    DataList& list = cache.data[size_class];
    if (list.head == nullptr) Refill(size_class, list);
    if (IOBufferData* data = Pop(list)) {
      Bump(cache.reused[size_class]);
      return Ptr<IOBufferData>(data);
    }
    Bump(cache.fresh[size_class]);
    return Ptr<IOBufferData>(NewData(size_class));
  }
  GlobalClass& g = GetGlobal().classes[size_class];
  IOBufferData* data;
  {
    std::lock_guard<std::mutex> lock(g.mu);
    data = Pop(g.list);
    ++(data != nullptr ? g.reused : g.fresh);
  }
  return Ptr<IOBufferData>(data != nullptr ? data : NewData(size_class));
}

void IOBufferPool::FreeData(IOBufferData* data) {
  const int size_class = data->size_class_;
  if (!tls_cache_gone) {
    DataList& list = tls_cache.data[size_class];
    Push(list, data);
    if (list.count > ThreadCacheLimit(size_class)) {
      // Keep the entry just freed (its memory is warm in this CPU's cache) and move a batch of
      // the ones under it.
      IOBufferData* top = Pop(list);
      DataList batch = TakeFront(list, BatchSize(size_class));
      Push(list, top);
      GiveToGlobal(size_class, batch);
    }
    return;
  }
  DataList one;
  Push(one, data);
  GiveToGlobal(size_class, one);
}

Ptr<IOBufferBlock> IOBufferPool::AllocBlock() {
  if (!tls_cache_gone) {
    ThreadCache& cache = tls_cache;
    if (IOBufferBlock* block = cache.blocks) {
      cache.blocks = block->free_next_;
      block->free_next_ = nullptr;
      --cache.block_count;
      Bump(cache.blocks_reused);
      return Ptr<IOBufferBlock>(block);
    }
    Bump(cache.blocks_fresh);
    return Ptr<IOBufferBlock>(new IOBufferBlock);
  }
  Global& global = GetGlobal();
  {
    std::lock_guard<std::mutex> lock(global.registry_mu);
    ++global.gone_blocks_fresh;
  }
  return Ptr<IOBufferBlock>(new IOBufferBlock);
}

void IOBufferPool::FreeBlock(IOBufferBlock* block) {
  if (!tls_cache_gone) {
    ThreadCache& cache = tls_cache;
    if (cache.block_count < kMaxCachedBlocks) {
      block->free_next_ = cache.blocks;
      cache.blocks = block;
      ++cache.block_count;
      return;
    }
  }
  delete block;
}

IOBufferAllocatorStats IOBufferPool::Stats() {
  IOBufferAllocatorStats stats;
  Global& global = GetGlobal();
  {
    std::lock_guard<std::mutex> lock(global.registry_mu);
    for (int i = 0; i < kNumSizeClasses; ++i) {
      stats.size_classes[i].reused = global.gone_reused[i];
      stats.size_classes[i].fresh = global.gone_fresh[i];
    }
    stats.blocks_reused = global.gone_blocks_reused;
    stats.blocks_fresh = global.gone_blocks_fresh;
    for (const ThreadCache* cache : global.caches) {
      for (int i = 0; i < kNumSizeClasses; ++i) {
        stats.size_classes[i].reused += cache->reused[i].load(std::memory_order_relaxed);
        stats.size_classes[i].fresh += cache->fresh[i].load(std::memory_order_relaxed);
      }
      stats.blocks_reused += cache->blocks_reused.load(std::memory_order_relaxed);
      stats.blocks_fresh += cache->blocks_fresh.load(std::memory_order_relaxed);
    }
  }
  for (int i = 0; i < kNumSizeClasses; ++i) {
    GlobalClass& g = global.classes[i];
    IOBufferAllocatorStats::SizeClass& s = stats.size_classes[i];
    {
      std::lock_guard<std::mutex> lock(g.mu);
      s.reused += g.reused;
      s.fresh += g.fresh;
      s.released = g.released;
      s.global_pooled = g.list.count;
    }
    stats.reused += s.reused;
    stats.fresh += s.fresh;
    stats.released += s.released;
  }
  return stats;
}

void IOBufferPool::Trim() {
  Global& global = GetGlobal();
  if (!tls_cache_gone) {
    ThreadCache& cache = tls_cache;
    for (int i = 0; i < kNumSizeClasses; ++i) {
      const int64_t freed = DeleteAll(cache.data[i]);
      if (freed == 0) continue;
      std::lock_guard<std::mutex> lock(global.classes[i].mu);
      global.classes[i].released += freed;
    }
    while (IOBufferBlock* block = cache.blocks) {
      cache.blocks = block->free_next_;
      delete block;
    }
    cache.block_count = 0;
  }
  for (GlobalClass& g : global.classes) {
    DataList all;
    {
      std::lock_guard<std::mutex> lock(g.mu);
      all = g.list;
      g.list = DataList();
      g.released += all.count;
    }
    DeleteAll(all);
  }
}

IOBufferAllocatorStats GetIOBufferAllocatorStats() { return IOBufferPool::Stats(); }

void TrimIOBufferFreeLists() { IOBufferPool::Trim(); }

// --- IOBufferData --------------------------------------------------------------------------------

Ptr<IOBufferData> IOBufferData::Alloc(int size_class) {
  return IOBufferPool::AllocData(size_class);
}

// The object is parked as it is (its count is back to 0) and handed out again by AllocData, so
// reuse costs no constructor or destructor.
void IOBufferData::Free() { IOBufferPool::FreeData(this); }

// --- IOBufferBlock -------------------------------------------------------------------------------

Ptr<IOBufferBlock> IOBufferBlock::Alloc(int size_class) {
  Ptr<IOBufferBlock> block = IOBufferPool::AllocBlock();
  block->data_ = IOBufferData::Alloc(size_class);
  block->start_ = block->data_->data();
  block->end_ = block->start_;
  block->buf_end_ = block->start_ + block->data_->size();
  return block;
}

Ptr<IOBufferBlock> IOBufferBlock::Clone() const {
  Ptr<IOBufferBlock> clone = IOBufferPool::AllocBlock();
  clone->data_ = data_;
  clone->start_ = start_;
  clone->end_ = end_;
  clone->buf_end_ = end_;
  return clone;
}

void IOBufferBlock::Free() {
  Ptr<IOBufferBlock> next = std::move(next_);
  data_ = nullptr;
  start_ = end_ = buf_end_ = nullptr;
  IOBufferPool::FreeBlock(this);
  // Dropping the rest of the chain one block at a time, each with its link already taken out,
  // keeps the stack flat however long the chain is. A block someone else still references stops
  // the walk: its owner keeps the rest alive.
  while (next && next->refcount() == 1) {
    Ptr<IOBufferBlock> after = std::move(next->next_);
    next = std::move(after);
  }
}

// --- IOBufferReader ------------------------------------------------------------------------------

void IOBufferReader::Consume(int64_t n) {
  if (!allocated_) return;
  n = std::min(n, ReadAvail());
  if (n <= 0) return;
  pos_ += n;
  const IOBufferBlock* const old_block = block_;
  // Move past a block as soon as it is consumed, so that the writer can release it.
  for (;;) {
    const int64_t left = block_->read_avail() - offset_;
    if (n < left || block_->next_ == nullptr) {
      offset_ += n;
      break;
    }
    n -= left;
    block_ = block_->next_.get();
    offset_ = 0;
  }
  writer_->OnConsumed(*this, old_block);
}

int64_t IOBufferReader::CopyOut(void* dst, int64_t len, int64_t offset) const {
  if (!allocated_ || len <= 0 || offset < 0) return 0;
  const int64_t avail = ReadAvail();
  if (offset >= avail) return 0;
  len = std::min(len, avail - offset);
  int64_t in_block = offset_ + offset;
  const IOBufferBlock* block = Seek(block_, &in_block);
  char* out = static_cast<char*>(dst);
  int64_t left = len;
  while (left > 0 && block != nullptr) {
    const int64_t n = std::min(left, block->read_avail() - in_block);
    std::memcpy(out, block->start() + in_block, n);
    out += n;
    left -= n;
    in_block = 0;
    block = block->next();
  }
  return len;
}

int64_t IOBufferReader::Read(void* dst, int64_t len) {
  const int64_t n = CopyOut(dst, len);
  Consume(n);
  return n;
}

std::optional<int64_t> IOBufferReader::Find(absl::string_view needle, int64_t from) const {
  if (!allocated_) return std::nullopt;
  const int64_t avail = ReadAvail();
  from = std::max<int64_t>(from, 0);
  if (from > avail) return std::nullopt;
  if (needle.empty()) return from;
  const int64_t needle_len = static_cast<int64_t>(needle.size());
  const int64_t last_start = avail - needle_len;  // the last offset a match can start at
  if (from > last_start) return std::nullopt;
  int64_t run_pos = 0;  // reader offset of the run's first byte
  int64_t skip = offset_;
  for (const IOBufferBlock* block = block_; block != nullptr && run_pos <= last_start;
       block = block->next(), skip = 0) {
    const char* run = block->start() + skip;
    const int64_t run_len = block->end() - run;
    const int64_t begin = std::max<int64_t>(from - run_pos, 0);
    const int64_t end = std::min(run_len, last_start - run_pos + 1);
    for (int64_t i = begin; i < end;) {
      const void* hit = std::memchr(run + i, needle[0], end - i);
      if (hit == nullptr) break;
      const int64_t at = static_cast<const char*>(hit) - run;
      if (MatchesAt(block, run + at, needle)) return run_pos + at;
      i = at + 1;
    }
    run_pos += run_len;
  }
  return std::nullopt;
}

int IOBufferReader::FillIovecs(struct iovec* iov, int max_iov, int64_t max_bytes) const {
  if (!allocated_ || iov == nullptr) return 0;
  int count = 0;
  int64_t skip = offset_;
  for (const IOBufferBlock* block = block_; block != nullptr && count < max_iov && max_bytes > 0;
       block = block->next(), skip = 0) {
    const int64_t n = std::min(block->read_avail() - skip, max_bytes);
    if (n <= 0) continue;
    // iovec wants a mutable pointer; writev only reads through it.
    iov[count].iov_base = const_cast<char*>(block->start() + skip);
    iov[count].iov_len = static_cast<size_t>(n);
    ++count;
    max_bytes -= n;
  }
  return count;
}

void IOBufferReader::ForEachBlock(absl::FunctionRef<bool(absl::string_view)> fn) const {
  if (!allocated_) return;
  int64_t skip = offset_;
  for (const IOBufferBlock* block = block_; block != nullptr; block = block->next(), skip = 0) {
    const int64_t n = block->read_avail() - skip;
    if (n <= 0) continue;
    if (!fn(absl::string_view(block->start() + skip, static_cast<size_t>(n)))) return;
  }
}

IOBufferReader* IOBufferReader::Clone() {
  if (!allocated_) return nullptr;
  IOBufferReader* clone = writer_->FreeSlot();
  if (clone == nullptr) return nullptr;
  clone->block_ = block_;
  clone->offset_ = offset_;
  clone->pos_ = pos_;
  clone->allocated_ = true;
  return clone;
}

// --- MIOBuffer -----------------------------------------------------------------------------------

MIOBuffer::MIOBuffer(int size_class) : size_class_(ClampSizeClass(size_class)) {
  for (IOBufferReader& reader : readers_) reader.writer_ = this;
}

MIOBuffer::~MIOBuffer() = default;

int64_t MIOBuffer::Write(const void* data, int64_t len) {
  if (len <= 0) return 0;
  DropPending();
  const char* from = static_cast<const char*>(data);
  int64_t left = len;
  while (left > 0) {
    if (tail_ == nullptr || tail_->write_avail() == 0) {
      LinkBlock(IOBufferBlock::Alloc(size_class_));
    }
    const int64_t n = std::min(left, tail_->write_avail());
    std::memcpy(tail_->end_, from, n);
    tail_->end_ += n;
    write_pos_ += n;
    from += n;
    left -= n;
  }
  return len;
}

int64_t MIOBuffer::AppendFrom(const IOBufferReader& reader, int64_t len, int64_t skip) {
  if (!reader.allocated_) return 0;
  skip = std::max<int64_t>(skip, 0);
  len = std::min(len, reader.ReadAvail() - skip);
  if (len <= 0) return 0;
  DropPending();
  int64_t in_block = reader.offset_ + skip;
  const IOBufferBlock* block = Seek(reader.block_, &in_block);
  // |reader| may belong to this buffer: the blocks appended then follow the ones read, and the
  // byte count stops the walk before it reaches them.
  int64_t left = len;
  while (left > 0 && block != nullptr) {
    const int64_t n = std::min(left, block->read_avail() - in_block);
    if (n > 0) {
      AppendRef(*block, block->start() + in_block, n);
      left -= n;
    }
    in_block = 0;
    block = block->next();
  }
  return len - left;
}

void MIOBuffer::AppendRef(const IOBufferBlock& source, const char* start, int64_t len) {
  if (tail_ != nullptr && tail_->write_avail() == 0 && tail_->data_ == source.data_ &&
      tail_->end_ == start) {
    // The bytes continue the last block's window on the same storage (a reader appended again
    // as more arrived): widen the window instead of adding a block. The bytes are committed in
    // the source, so no writer will change them.
    tail_->end_ += len;
    tail_->buf_end_ = tail_->end_;
  } else {
    Ptr<IOBufferBlock> clone = source.Clone();
    clone->start_ = clone->data_->data() + (start - source.data_->data());
    clone->end_ = clone->start_ + len;
    clone->buf_end_ = clone->end_;
    LinkBlock(std::move(clone));
  }
  write_pos_ += len;
}

int64_t MIOBuffer::WriteAvail() const { return tail_ != nullptr ? tail_->write_avail() : 0; }

int MIOBuffer::FillIovecs(struct iovec* iov, int max_iov, int64_t max_bytes) {
  DropPending();
  if (iov == nullptr || max_iov <= 0 || max_bytes <= 0) return 0;
  int count = 0;
  int64_t exposed = 0;
  if (tail_ != nullptr && tail_->write_avail() > 0) {
    exposed = std::min(tail_->write_avail(), max_bytes);
    iov[0].iov_base = tail_->end_;
    iov[0].iov_len = static_cast<size_t>(exposed);
    count = 1;
  }
  IOBufferBlock* last = nullptr;
  while (count < max_iov && exposed < max_bytes) {
    Ptr<IOBufferBlock> block = IOBufferBlock::Alloc(size_class_);
    const int64_t n = std::min(block->write_avail(), max_bytes - exposed);
    iov[count].iov_base = block->end_;
    iov[count].iov_len = static_cast<size_t>(n);
    ++count;
    exposed += n;
    IOBufferBlock* raw = block.get();
    if (last != nullptr) {
      last->next_ = std::move(block);
    } else {
      pending_ = std::move(block);
    }
    last = raw;
  }
  prepared_ = exposed;
  return count;
}

int64_t MIOBuffer::Fill(int64_t n) {
  n = std::clamp<int64_t>(n, 0, prepared_);
  int64_t left = n;
  // The regions were exposed in this order: the last block's write space, then pending_.
  if (left > 0 && tail_ != nullptr && tail_->write_avail() > 0) {
    const int64_t k = std::min(left, tail_->write_avail());
    tail_->end_ += k;
    write_pos_ += k;
    left -= k;
  }
  while (left > 0 && pending_ != nullptr) {
    Ptr<IOBufferBlock> block = std::move(pending_);
    pending_ = std::move(block->next_);
    const int64_t k = std::min(left, block->write_avail());
    LinkBlock(std::move(block));
    tail_->end_ += k;
    write_pos_ += k;
    left -= k;
  }
  DropPending();
  ReleaseIfDrained();
  return n;
}

int64_t MIOBuffer::MaxReadAvail() const {
  const IOBufferReader* earliest = EarliestReader();
  return write_pos_ - (earliest != nullptr ? earliest->pos_ : head_pos_);
}

IOBufferReader* MIOBuffer::AllocReader() {
  IOBufferReader* reader = FreeSlot();
  if (reader == nullptr) return nullptr;
  if (const IOBufferReader* earliest = EarliestReader()) {
    reader->block_ = earliest->block_;
    reader->offset_ = earliest->offset_;
    reader->pos_ = earliest->pos_;
  } else {
    reader->block_ = head_.get();
    reader->offset_ = 0;
    reader->pos_ = head_pos_;
  }
  reader->allocated_ = true;
  return reader;
}

void MIOBuffer::DeallocReader(IOBufferReader* reader) {
  const bool ours = std::any_of(std::begin(readers_), std::end(readers_),
                                [reader](const IOBufferReader& r) { return &r == reader; });
  if (!ours || !reader->allocated_) return;
  const IOBufferBlock* const block = reader->block_;
  const int64_t offset = reader->offset_;
  reader->allocated_ = false;
  reader->block_ = nullptr;
  reader->offset_ = 0;
  reader->pos_ = 0;
  if (head_ == nullptr) return;
  if (ReaderCount() > 0) {
    TrimHead();
  } else {
    // The last reader: what it consumed is gone, what it did not is kept for the next reader.
    while (head_.get() != block) {
      head_pos_ += head_->read_avail();
      head_ = head_->next_;
    }
    head_->start_ += offset;
    head_pos_ += offset;
    while (head_->read_avail() == 0 && head_->next_ != nullptr) head_ = head_->next_;
  }
  ReleaseIfDrained();
}

void MIOBuffer::DeallocAllReaders() {
  for (IOBufferReader& reader : readers_) DeallocReader(&reader);
}

int MIOBuffer::ReaderCount() const {
  return static_cast<int>(std::count_if(std::begin(readers_), std::end(readers_),
                                        [](const IOBufferReader& r) { return r.allocated_; }));
}

const IOBufferReader* MIOBuffer::EarliestReader() const {
  const IOBufferReader* earliest = nullptr;
  for (const IOBufferReader& reader : readers_) {
    if (reader.allocated_ && (earliest == nullptr || reader.pos_ < earliest->pos_)) {
      earliest = &reader;
    }
  }
  return earliest;
}

IOBufferReader* MIOBuffer::FreeSlot() {
  for (IOBufferReader& reader : readers_) {
    if (!reader.allocated_) return &reader;
  }
  return nullptr;
}

bool MIOBuffer::AnyReaderOn(const IOBufferBlock* block) const {
  return std::any_of(std::begin(readers_), std::end(readers_), [block](const IOBufferReader& r) {
    return r.allocated_ && r.block_ == block;
  });
}

void MIOBuffer::LinkBlock(Ptr<IOBufferBlock> block) {
  IOBufferBlock* const raw = block.get();
  if (tail_ == nullptr) {
    // The buffer held nothing, so every reader has consumed everything: they all start here.
    head_ = std::move(block);
    tail_ = raw;
    head_pos_ = write_pos_;
    for (IOBufferReader& reader : readers_) {
      if (!reader.allocated_) continue;
      reader.block_ = raw;
      reader.offset_ = 0;
    }
    return;
  }
  // Only the last block has write space; what is left in the old one is given up.
  tail_->buf_end_ = tail_->end_;
  tail_->next_ = std::move(block);
  tail_ = raw;
}

void MIOBuffer::DropPending() {
  pending_ = nullptr;
  prepared_ = 0;
}

void MIOBuffer::TrimHead() {
  if (ReaderCount() == 0) return;  // with no reader, a future reader needs everything
  while (head_.get() != tail_ && !AnyReaderOn(head_.get())) {
    head_pos_ += head_->read_avail();
    head_ = head_->next_;
  }
}

void MIOBuffer::ReleaseIfDrained() {
  // While FillIovecs regions are out, the last block's write space may be one of them: keep it.
  if (head_ != nullptr && prepared_ == 0 && MaxReadAvail() == 0) ReleaseAll();
}

void MIOBuffer::ReleaseAll() {
  head_ = nullptr;
  tail_ = nullptr;
  head_pos_ = write_pos_;
  for (IOBufferReader& reader : readers_) {
    reader.block_ = nullptr;
    reader.offset_ = 0;
  }
}

void MIOBuffer::OnConsumed(const IOBufferReader& reader, const IOBufferBlock* old_block) {
  if (reader.pos_ == write_pos_) {
    ReleaseIfDrained();
    if (head_ == nullptr) return;
  }
  if (old_block == head_.get() && reader.block_ != old_block) TrimHead();
}

}  // namespace tollgate
