// One oneDNN CPU engine and stream per process, and a cache of prepared
// primitives keyed by everything that determines them (shapes, strides,
// padding, fused operations). Creating a primitive costs far more than
// running it on the small tensors of a training step, so each is made once.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace vicinal {

struct Engine {
  dnnl::engine cpu{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{cpu};
};

Engine& engine();

// Serialises use of the caches and the stream (JavaScript threads of one
// process could otherwise enter at the same time).
std::mutex& native_lock();

using Key = std::vector<int64_t>;

// A cache entry is either a prepared primitive or the memo that oneDNN has
// no implementation for this key (so the caller falls back at once).
template <typename Entry>
class PrimitiveCache {
 public:
  // Returns the entry for `key`, building it with make() on first use;
  // nullptr when make() threw a dnnl::error (remembered as unsupported).
  template <typename Make>
  Entry* get(const Key& key, Make make) {
    auto found = entries_.find(key);
    if (found != entries_.end()) return found->second.get();
    std::unique_ptr<Entry> entry;
    try {
      entry = make();
    } catch (const dnnl::error&) {
      entry.reset();
    }
    Entry* raw = entry.get();
    entries_.emplace(key, std::move(entry));
    return raw;
  }

  size_t size() const { return entries_.size(); }

 private:
  std::map<Key, std::unique_ptr<Entry>> entries_;
};

// A memory object without a buffer of its own, pointed at caller data per call.
inline dnnl::memory borrowed(const dnnl::memory::desc& desc) {
  return dnnl::memory(desc, engine().cpu, DNNL_MEMORY_NONE);
}

}  // namespace vicinal
