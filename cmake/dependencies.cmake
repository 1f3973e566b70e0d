# Every external dependency, found once. All come from Debian packages
# (launch/install_deps.sh), except LibTorch when SPACEBYTE_LIBTORCH=pytorch:
# then it is the one inside the PyTorch that SPACEBYTE_PYTHON imports (a
# virtual environment's, or a cluster node's own). Nothing is vendored.
set(SPACEBYTE_LIBTORCH "debian" CACHE STRING
  "Which LibTorch to build against: debian (libtorch-dev, 1.13, CPU) or pytorch (the installed PyTorch's, 2.x, CPU and CUDA)")
set_property(CACHE SPACEBYTE_LIBTORCH PROPERTY STRINGS debian pytorch)
set(SPACEBYTE_PYTHON "python3" CACHE STRING "The Python whose PyTorch SPACEBYTE_LIBTORCH=pytorch uses")
if(SPACEBYTE_LIBTORCH STREQUAL "pytorch")
  execute_process(
    # torch.utils.cmake_prefix_path, found without importing torch (whose
    # Python dependencies a build-only environment need not have).
    COMMAND ${SPACEBYTE_PYTHON} -c
      "import importlib.util as u, os; print(os.path.join(u.find_spec('torch').submodule_search_locations[0], 'share', 'cmake'))"
    OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _torch_found)
  if(NOT _torch_found EQUAL 0)
    message(FATAL_ERROR "SPACEBYTE_LIBTORCH=pytorch: ${SPACEBYTE_PYTHON} finds no torch package")
  endif()
  list(PREPEND CMAKE_PREFIX_PATH ${_torch_prefix})
  # TorchConfig looks its libraries up with PATHS, which come after the
  # system's: where Debian's LibTorch is installed too, it would pick that
  # libc10 and load two c10s into one process.
  get_filename_component(_torch_lib "${_torch_prefix}/../../lib" ABSOLUTE)
  list(PREPEND CMAKE_LIBRARY_PATH ${_torch_lib})
elseif(NOT SPACEBYTE_LIBTORCH STREQUAL "debian")
  message(FATAL_ERROR "SPACEBYTE_LIBTORCH must be debian or pytorch, got ${SPACEBYTE_LIBTORCH}")
endif()
# Before Torch: PyTorch's Caffe2Config makes protobuf::libprotobuf an empty
# stand-in when no such target exists yet.
include(${CMAKE_CURRENT_LIST_DIR}/data_dependencies.cmake)
find_package(Torch REQUIRED)
message(STATUS "LibTorch ${Torch_VERSION} from ${SPACEBYTE_LIBTORCH} (${TORCH_INSTALL_PREFIX})")
# A wheel's site-packages, where pip's nvidia-* packages (CUDA libraries,
# NCCL) sit beside torch/.
get_filename_component(_torch_site "${TORCH_INSTALL_PREFIX}/.." ABSOLUTE)
# For scripts that report what a build was made against (launch/test_all.sh).
file(WRITE ${CMAKE_BINARY_DIR}/libtorch_version.txt "${Torch_VERSION}\n")
set(SPACEBYTE_TORCH_LIBRARIES ${TORCH_LIBRARIES})
if(SPACEBYTE_LIBTORCH STREQUAL "pytorch")
  # The wheel's include/ carries an old copy of protobuf's headers
  # (include/google/), which would shadow the protobuf our generated code is
  # built against. Its headers are seen through a folder of links to every
  # entry but that one.
  set(_torch_include ${CMAKE_BINARY_DIR}/torch_include)
  file(MAKE_DIRECTORY ${_torch_include})
  file(GLOB _entries RELATIVE ${TORCH_INSTALL_PREFIX}/include ${TORCH_INSTALL_PREFIX}/include/*)
  foreach(_entry ${_entries})
    if(NOT _entry STREQUAL "google")
      file(CREATE_LINK ${TORCH_INSTALL_PREFIX}/include/${_entry} ${_torch_include}/${_entry}
        SYMBOLIC)
    endif()
  endforeach()
  set(TORCH_INCLUDE_DIRS ${_torch_include} ${TORCH_INSTALL_PREFIX}/include/torch/csrc/api/include)
  foreach(_target torch torch_cpu torch_cuda c10 c10_cuda torch_library)
    if(TARGET ${_target})
      set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}")
    endif()
  endforeach()
endif()
if(SPACEBYTE_LIBTORCH STREQUAL "pytorch" AND NOT SPACEBYTE_CUDA)
  # PyPI's wheel is built with CUDA. A CPU build links only its CPU libraries,
  # so it runs without cuDNN, NCCL or a driver.
  add_library(spacebyte_torch_cpu INTERFACE)
  target_include_directories(spacebyte_torch_cpu INTERFACE ${TORCH_INCLUDE_DIRS})
  target_link_libraries(spacebyte_torch_cpu INTERFACE
    ${TORCH_INSTALL_PREFIX}/lib/libtorch_cpu.so ${TORCH_INSTALL_PREFIX}/lib/libc10.so)
  target_compile_options(spacebyte_torch_cpu INTERFACE ${TORCH_CXX_FLAGS})
  set(SPACEBYTE_TORCH_LIBRARIES spacebyte_torch_cpu)
elseif(SPACEBYTE_CUDA)
  # libtorch_cuda registers the CUDA backend from its static initialisers;
  # nothing of ours names a symbol in it, so an --as-needed linker (Ubuntu's
  # default) would drop it and CUDA would look absent.
  list(PREPEND SPACEBYTE_TORCH_LIBRARIES "-Wl,--no-as-needed")
  if(SPACEBYTE_LIBTORCH STREQUAL "pytorch")
    # The wheel's libraries carry no run path: Python preloads the CUDA
    # libraries of pip's nvidia-* packages. Our programs find them through
    # their own run path, and the linker through -rpath-link.
    file(GLOB _nvidia_lib_dirs LIST_DIRECTORIES true ${_torch_site}/nvidia/*/lib)
    foreach(_dir ${_nvidia_lib_dirs})
      list(APPEND SPACEBYTE_TORCH_LIBRARIES "-Wl,-rpath-link,${_dir}")
    endforeach()
    list(APPEND CMAKE_BUILD_RPATH ${TORCH_INSTALL_PREFIX}/lib ${_nvidia_lib_dirs})
  endif()
endif()
find_package(MPI REQUIRED COMPONENTS C)
# The CPU attention kernel calls cblas_sgemm; at run time libblas.so.3 is
# OpenBLAS (Debian's alternatives), the same library LibTorch calls.
find_package(BLAS REQUIRED)
find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES x86_64-linux-gnu REQUIRED)
set_property(TARGET BLAS::BLAS APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES ${CBLAS_INCLUDE_DIR})

# Unicode general categories and scripts for the multilingual patch rule.
find_package(ICU REQUIRED COMPONENTS uc)

# LibTorch's headers are heavy; every target that includes them reuses one
# precompiled header so a 2-core build stays fast.
add_library(spacebyte_torch_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cc)
# at::parallel_for is inlined from LibTorch's headers and runs serially
# unless the including file is compiled with OpenMP (libgomp, the runtime
# LibTorch itself uses).
find_package(OpenMP REQUIRED COMPONENTS CXX)
target_link_libraries(spacebyte_torch_pch PUBLIC ${SPACEBYTE_TORCH_LIBRARIES} OpenMP::OpenMP_CXX)
target_compile_options(spacebyte_torch_pch PUBLIC -Wno-deprecated-declarations)
target_precompile_headers(spacebyte_torch_pch PRIVATE <torch/torch.h>)

function(spacebyte_use_torch target)
  target_link_libraries(${target} PUBLIC spacebyte_torch_pch)
  target_precompile_headers(${target} REUSE_FROM spacebyte_torch_pch)
endfunction()

if(SPACEBYTE_CUDA)
  find_package(CUDAToolkit REQUIRED)
  # Our own kernels (kernels/*.cu). PyTorch's CMake config has usually
  # enabled the language already; nvcc need not be on PATH.
  if(NOT CMAKE_CUDA_COMPILER AND CUDAToolkit_NVCC_EXECUTABLE)
    set(CMAKE_CUDA_COMPILER ${CUDAToolkit_NVCC_EXECUTABLE})
  endif()
  enable_language(CUDA)
  # The NCCL that PyTorch's wheel loads (pip's nvidia-nccl) comes first, so
  # one process never holds two; then the toolkit's.
  find_path(NCCL_INCLUDE_DIR nccl.h
    HINTS ${_torch_site}/nvidia/nccl/include ${_torch_site}/nvidia/cu13/include ${CUDAToolkit_INCLUDE_DIRS}
    REQUIRED)
  # The library beside the header found; CUDAToolkit_LIBRARY_DIR alone is
  # not enough: with only /usr/local/bin/nvcc on PATH it is /usr/local/lib,
  # which holds cudart but no NCCL.
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2
    HINTS ${NCCL_INCLUDE_DIR}/../lib ${NCCL_INCLUDE_DIR}/../lib64
      ${_torch_site}/nvidia/nccl/lib ${_torch_site}/nvidia/cu13/lib
      ${CUDAToolkit_TARGET_DIR}/lib64 ${CUDAToolkit_TARGET_DIR}/lib ${CUDAToolkit_LIBRARY_DIR}
    REQUIRED)
  message(STATUS "NCCL: ${NCCL_LIBRARY}")
  add_library(nccl::nccl UNKNOWN IMPORTED)
  set_target_properties(nccl::nccl PROPERTIES
    IMPORTED_LOCATION ${NCCL_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${NCCL_INCLUDE_DIR})
endif()
