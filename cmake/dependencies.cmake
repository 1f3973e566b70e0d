# Every external dependency, found once. All come from Debian packages
# (launch/install_deps.sh); nothing is vendored.
find_package(Torch REQUIRED)
find_package(MPI REQUIRED COMPONENTS C)
find_package(Protobuf REQUIRED)
find_package(absl REQUIRED)
find_package(Threads REQUIRED)
# The CPU attention kernel calls cblas_sgemm; at run time libblas.so.3 is
# OpenBLAS (Debian's alternatives), the same library LibTorch calls.
find_package(BLAS REQUIRED)

find_path(ISAL_INCLUDE_DIR isa-l/crc.h REQUIRED)
find_library(ISAL_LIBRARY isal REQUIRED)
add_library(isal::isal UNKNOWN IMPORTED)
set_target_properties(isal::isal PROPERTIES
  IMPORTED_LOCATION ${ISAL_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${ISAL_INCLUDE_DIR})

find_package(nlohmann_json REQUIRED)

# LibTorch's headers are heavy; every target that includes them reuses one
# precompiled header so a 2-core build stays fast.
add_library(spacebyte_torch_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cc)
# at::parallel_for is inlined from LibTorch's headers and runs serially
# unless the including file is compiled with OpenMP (libgomp, the runtime
# LibTorch itself uses).
find_package(OpenMP REQUIRED COMPONENTS CXX)
target_link_libraries(spacebyte_torch_pch PUBLIC ${TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
target_compile_options(spacebyte_torch_pch PUBLIC -Wno-deprecated-declarations)
target_precompile_headers(spacebyte_torch_pch PRIVATE <torch/torch.h>)

function(spacebyte_use_torch target)
  target_link_libraries(${target} PUBLIC spacebyte_torch_pch)
  target_precompile_headers(${target} REUSE_FROM spacebyte_torch_pch)
endfunction()

if(SPACEBYTE_CUDA)
  find_package(CUDAToolkit REQUIRED)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} REQUIRED)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} REQUIRED)
  add_library(nccl::nccl UNKNOWN IMPORTED)
  set_target_properties(nccl::nccl PROPERTIES
    IMPORTED_LOCATION ${NCCL_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${NCCL_INCLUDE_DIR})
endif()
