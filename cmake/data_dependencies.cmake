# What proto/ and data/ need: no LibTorch, no MPI. Included by
# dependencies.cmake, and alone by the fuzzing build (SPACEBYTE_FUZZ).
find_package(Protobuf REQUIRED)
find_package(absl REQUIRED)
find_package(Threads REQUIRED)
find_path(ISAL_INCLUDE_DIR isa-l/crc.h REQUIRED)
find_library(ISAL_LIBRARY isal REQUIRED)
add_library(isal::isal UNKNOWN IMPORTED)
set_target_properties(isal::isal PROPERTIES
  IMPORTED_LOCATION ${ISAL_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${ISAL_INCLUDE_DIR})
find_package(nlohmann_json REQUIRED)
# JSON Lines input to `spacebyte prep` (nlohmann's parser ran at ~70 MB/s).
find_package(simdjson REQUIRED)
# Compressed inputs to `spacebyte prep`: gzip, xz, zstd.
find_package(ZLIB REQUIRED)
find_package(LibLZMA REQUIRED)
find_path(ZSTD_INCLUDE_DIR zstd.h REQUIRED)
find_library(ZSTD_LIBRARY zstd REQUIRED)
add_library(zstd::zstd UNKNOWN IMPORTED)
set_target_properties(zstd::zstd PROPERTIES
  IMPORTED_LOCATION ${ZSTD_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${ZSTD_INCLUDE_DIR})
