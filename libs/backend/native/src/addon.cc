// vicinal's native CPU kernels for TensorFlow.js: module entry point, the
// shared oneDNN engine and the info() function the loader reports.
#include <node_api.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_debug.h>

#include <string>

#include "engine.h"
#include "kernels.h"
#include "napi-util.h"

namespace vicinal {

Engine& engine() {
  static Engine instance;
  return instance;
}

std::mutex& native_lock() {
  static std::mutex lock;
  return lock;
}

namespace {

void set_property(napi_env env, napi_value object, const char* name, napi_value value) {
  check(env, napi_set_named_property(env, object, name, value), name);
}

napi_value string(napi_env env, const std::string& text) {
  napi_value out;
  check(env, napi_create_string_utf8(env, text.c_str(), text.size(), &out), "string");
  return out;
}

napi_value integer(napi_env env, int64_t value) {
  napi_value out;
  check(env, napi_create_int64(env, value, &out), "integer");
  return out;
}

// info() -> { library, version, isa, threads, cachedPrimitives }
napi_value info(napi_env env, napi_callback_info cb) {
  napi_value argv[1];
  size_t argc = 0;
  check(env, napi_get_cb_info(env, cb, &argc, argv, nullptr, nullptr), "info");
  std::lock_guard<std::mutex> hold(native_lock());
  engine();  // fails here, not in a kernel, when the library cannot start
  const dnnl_version_t* v = dnnl_version();
  napi_value out;
  check(env, napi_create_object(env, &out), "info");
  set_property(env, out, "library", string(env, "oneDNN"));
  set_property(env, out, "version",
               string(env, std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                               std::to_string(v->patch)));
  set_property(env, out, "isa", string(env, dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa())));
  set_property(env, out, "threads", integer(env, omp_get_max_threads()));
  size_t cached = conv_cache_entries() + matmul_cache_entries() + pool_cache_entries();
  set_property(env, out, "cachedPrimitives", integer(env, static_cast<int64_t>(cached)));
  return out;
}

// setThreads(n): threads oneDNN uses from the next primitive execution on.
napi_value set_threads(napi_env env, napi_callback_info cb) {
  napi_value argv[1];
  arguments(env, cb, 1, argv, "setThreads");
  double n = number(env, argv[0], "threads");
  if (!(n >= 1 && n <= 1024) || n != static_cast<int>(n)) {
    throw ArgumentError("threads: expected an integer in [1, 1024]");
  }
  std::lock_guard<std::mutex> hold(native_lock());
  omp_set_num_threads(static_cast<int>(n));
  return nullptr;
}

napi_value init(napi_env env, napi_value exports) {
  try {
    define<info>(env, exports, "info");
    define<set_threads>(env, exports, "setThreads");
    register_conv(env, exports);
    register_pool(env, exports);
    register_batch_norm(env, exports);
    register_matmul(env, exports);
    register_mix(env, exports);
  } catch (const std::exception& err) {
    napi_throw_error(env, nullptr, err.what());
  }
  return exports;
}

}  // namespace
}  // namespace vicinal

NAPI_MODULE(NODE_GYP_MODULE_NAME, vicinal::init)
