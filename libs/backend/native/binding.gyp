{
  "targets": [
    {
      "target_name": "vicinal_native",
      "sources": [
        "src/addon.cc", "src/batchnorm.cc", "src/conv.cc", "src/fused.cc", "src/matmul.cc",
        "src/mix.cc", "src/pool.cc"
      ],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp", "-Wall", "-Wextra"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
