# Source this: `source launch/offline_env.sh DEPS_DIR PREFIX`
#
# On a node without apt (a GPU cluster node with PyTorch, a compiler and
# CMake): unpacks the Debian packages that launch/offline_deps.sh gathered
# into PREFIX, without root, and exports what building and running need:
# PATH, LD_LIBRARY_PATH, OPAL_PREFIX (Open MPI relocated into PREFIX) and
# SPACEBYTE_OFFLINE_CMAKE_ARGS for cmake. Then:
#   cmake -S . -B build -G Ninja -DSPACEBYTE_LIBTORCH=pytorch -DSPACEBYTE_CUDA=ON \
#     $SPACEBYTE_OFFLINE_CMAKE_ARGS
# Unpacking again over an existing PREFIX is skipped.

_sb_deps=$(cd "${1:?usage: source launch/offline_env.sh DEPS_DIR PREFIX}" && pwd)
mkdir -p "${2:?usage: source launch/offline_env.sh DEPS_DIR PREFIX}"
_sb_prefix=$(cd "$2" && pwd)
_sb_python=${SPACEBYTE_PYTHON:-python3}

if [ ! -f "$_sb_prefix/.unpacked" ]; then
  # Python, not dpkg: a node without apt may lack dpkg-deb, never Python
  # (PyTorch is installed). A .deb is an ar archive holding data.tar.xz.
  "$_sb_python" - "$_sb_deps" "$_sb_prefix" <<'PY' || return 1
import glob, os, sys, tarfile

deps, prefix = sys.argv[1], sys.argv[2]
debs = sorted(glob.glob(os.path.join(deps, "*.deb")))
if not debs:
    sys.exit(f"offline_env: {deps} has no .deb files (make them with launch/offline_deps.sh)")
for deb in debs:
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            sys.exit(f"offline_env: {deb} is not a Debian package")
        while True:
            header = f.read(60)
            if len(header) < 60:
                sys.exit(f"offline_env: {deb} has no data.tar.xz")
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            if name.startswith("data.tar"):
                import io
                with tarfile.open(fileobj=io.BytesIO(f.read(size))) as tar:
                    for member in tar.getmembers():
                        # Absolute links would point back into the node's /usr.
                        if member.issym() and member.linkname.startswith("/"):
                            target = os.path.join(prefix, member.linkname.lstrip("/"))
                            here = os.path.dirname(os.path.join(prefix, member.name))
                            member.linkname = os.path.relpath(target, here)
                    kwargs = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
                    tar.extractall(prefix, **kwargs)
                break
            f.seek(size + (size & 1), 1)
PY
  _sb_lib=$_sb_prefix/usr/lib/x86_64-linux-gnu
  # Links Debian's alternatives system would make at install time.
  ln -sf cblas-netlib.h "$_sb_prefix/usr/include/x86_64-linux-gnu/cblas.h"
  ln -sf openblas-pthread/libblas.so.3 "$_sb_lib/libblas.so"
  ln -sf openblas-pthread/libblas.so.3 "$_sb_lib/libblas.so.3"
  for tool in mpicc mpicxx mpirun mpiexec; do
    ln -sf "$tool.openmpi" "$_sb_prefix/usr/bin/$tool"
  done
  touch "$_sb_prefix/.unpacked"
fi

_sb_lib=$_sb_prefix/usr/lib/x86_64-linux-gnu
export PATH=$_sb_prefix/usr/bin:$PATH
export LD_LIBRARY_PATH=$_sb_lib:$_sb_lib/openblas-pthread:$_sb_lib/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OPAL_PREFIX=$_sb_prefix/usr
export PMIX_INSTALL_PREFIX=$_sb_lib/pmix2
# PMIx's plugins from PREFIX, not a different PMIx the node may have.
export PMIX_MCA_mca_base_component_path=$_sb_lib/pmix2/lib/pmix
export PMIX_MCA_pcompress_base_silence_warning=1
export SPACEBYTE_OFFLINE_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$_sb_prefix/usr \
-DCMAKE_INCLUDE_PATH=$_sb_prefix/usr/include/x86_64-linux-gnu \
-DMPI_C_COMPILER=$_sb_prefix/usr/bin/mpicc.openmpi \
-DMPIEXEC_EXECUTABLE=$_sb_prefix/usr/bin/mpirun.openmpi \
-DProtobuf_PROTOC_EXECUTABLE=$_sb_prefix/usr/bin/protoc \
-DCMAKE_MAKE_PROGRAM=$_sb_prefix/usr/bin/ninja"
unset _sb_deps _sb_prefix _sb_python _sb_lib
