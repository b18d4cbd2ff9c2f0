#pragma once
// Element types. float32 is the working type everywhere; float64 exists on the
// CPU so that gradcheck can use central differences without rounding noise;
// int64 holds indices (targets, embedding ids) and supports no arithmetic.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mg {

enum class DType : uint8_t { F32, F64, I64 };

constexpr size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I64: return "int64";
  }
  return "?";
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }

enum class Device : uint8_t { CPU, CUDA };

constexpr std::string_view device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

}  // namespace mg
