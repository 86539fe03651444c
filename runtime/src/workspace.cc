#include "workspace.h"

#include <cstdlib>
#include <new>

namespace spruce {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

struct Buffer {
  std::unique_ptr<void, FreeDeleter> data;
  size_t bytes = 0;
};

constexpr size_t kAlignment = 64;

}  // namespace

void* thread_workspace(WorkspaceSlot slot, size_t bytes) {
  thread_local Buffer buffers[static_cast<size_t>(WorkspaceSlot::kCount)];
  Buffer& b = buffers[static_cast<size_t>(slot)];
  if (b.bytes < bytes || b.data == nullptr) {
    // Round up so aligned_alloc's size rule holds and small growth steps
    // do not reallocate every time.
    const size_t size = (bytes + bytes / 4 + kAlignment) / kAlignment * kAlignment;
    void* p = std::aligned_alloc(kAlignment, size);
    if (p == nullptr) throw std::bad_alloc();
    b.data.reset(p);
    b.bytes = size;
  }
  return b.data.get();
}

}  // namespace spruce
