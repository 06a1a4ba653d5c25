// Small helpers over node_api.h: argument checking and errors that name the
// argument, so a misuse from TypeScript fails with a readable message.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace vicinal {

// Thrown inside the addon; converted to a JavaScript TypeError at the boundary.
struct ArgumentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void check(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return;
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  std::string message = std::string(what) + ": " +
                        (info && info->error_message ? info->error_message : "napi error");
  throw std::runtime_error(message);
}

// A typed array argument: element pointer and element count.
template <typename T>
struct View {
  T* data = nullptr;
  size_t length = 0;
};

template <typename T>
constexpr napi_typedarray_type typed_array_type();
template <>
constexpr napi_typedarray_type typed_array_type<float>() {
  return napi_float32_array;
}
template <>
constexpr napi_typedarray_type typed_array_type<int32_t>() {
  return napi_int32_array;
}
template <>
constexpr napi_typedarray_type typed_array_type<uint8_t>() {
  return napi_uint8_array;
}

template <typename T>
View<T> typed_array(napi_env env, napi_value value, const char* name) {
  bool is_typed = false;
  check(env, napi_is_typedarray(env, value, &is_typed), name);
  if (!is_typed) throw ArgumentError(std::string(name) + ": expected a typed array");
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  check(env, napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset),
        name);
  if (type != typed_array_type<T>()) {
    throw ArgumentError(std::string(name) + ": wrong typed array element type");
  }
  return View<T>{static_cast<T*>(data), length};
}

// An Int32Array argument of exactly `count` values (a packed geometry).
inline const int32_t* packed_ints(napi_env env, napi_value value, size_t count,
                                  const char* name) {
  View<int32_t> v = typed_array<int32_t>(env, value, name);
  if (v.length != count) {
    throw ArgumentError(std::string(name) + ": expected " + std::to_string(count) +
                        " values, got " + std::to_string(v.length));
  }
  return v.data;
}

inline bool is_null_or_undefined(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  return type == napi_null || type == napi_undefined;
}

inline double number(napi_env env, napi_value value, const char* name) {
  double out = 0;
  if (napi_get_value_double(env, value, &out) != napi_ok) {
    throw ArgumentError(std::string(name) + ": expected a number");
  }
  return out;
}

inline napi_value boolean(napi_env env, bool value) {
  napi_value out;
  check(env, napi_get_boolean(env, value, &out), "boolean");
  return out;
}

inline void require_length(const char* name, size_t actual, size_t expected) {
  if (actual != expected) {
    throw ArgumentError(std::string(name) + ": expected " + std::to_string(expected) +
                        " elements, got " + std::to_string(actual));
  }
}

// Reads exactly `count` arguments (more or fewer is an error).
inline void arguments(napi_env env, napi_callback_info info, size_t count, napi_value* out,
                      const char* function) {
  size_t argc = count;
  check(env, napi_get_cb_info(env, info, &argc, out, nullptr, nullptr), function);
  if (argc != count) {
    throw ArgumentError(std::string(function) + ": expected " + std::to_string(count) +
                        " arguments, got " + std::to_string(argc));
  }
}

}  // namespace vicinal
