// Registration of the addon's functions on the module's exports object.
#pragma once

#include <node_api.h>

#include <exception>
#include <string>

#include "napi-util.h"

namespace vicinal {

// Runs a function body and turns C++ exceptions into JavaScript errors
// (TypeError for bad arguments, Error otherwise); nothing escapes into Node.
template <napi_value (*Body)(napi_env, napi_callback_info)>
napi_value guarded(napi_env env, napi_callback_info info) {
  try {
    return Body(env, info);
  } catch (const ArgumentError& err) {
    napi_throw_type_error(env, nullptr, err.what());
  } catch (const std::exception& err) {
    napi_throw_error(env, nullptr, (std::string("vicinal native: ") + err.what()).c_str());
  } catch (...) {
    napi_throw_error(env, nullptr, "vicinal native: unknown error");
  }
  return nullptr;
}

template <napi_value (*Body)(napi_env, napi_callback_info)>
void define(napi_env env, napi_value exports, const char* name) {
  napi_value fn;
  check(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, guarded<Body>, nullptr, &fn),
        name);
  check(env, napi_set_named_property(env, exports, name, fn), name);
}

void register_conv(napi_env env, napi_value exports);
void register_pool(napi_env env, napi_value exports);
void register_batch_norm(napi_env env, napi_value exports);
void register_matmul(napi_env env, napi_value exports);
void register_mix(napi_env env, napi_value exports);
size_t conv_cache_entries();
size_t matmul_cache_entries();
size_t pool_cache_entries();

}  // namespace vicinal
