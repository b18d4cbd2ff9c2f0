#!/usr/bin/env bash
# Creates bench/compare/.venv with the newest PyTorch, TensorFlow (CPU build),
# Keras and NumPy from PyPI, for the comparison suite in this folder, and
# Intel MKL (its libmkl_rt is the MKL column of build/bench/bench_gemm). Nothing
# in the build or the tests uses it. A second run only reports the versions.
#
# PyPI's torch wheel for Linux x86_64 is a CUDA build: it cannot be imported
# without the CUDA runtime libraries it links against, so those wheels are
# installed too. What is left out is what a CPU run never loads: triton (the
# torch.compile code generator) and cuda-bindings (Python bindings for CUDA).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
py="$venv/bin/python"

versions='import torch, tensorflow, keras, numpy
print(f"torch {torch.__version__}, tensorflow {tensorflow.__version__}, keras {keras.__version__}, numpy {numpy.__version__}")'

export TF_CPP_MIN_LOG_LEVEL=2
if [[ -x "$py" ]] && "$py" -c "$versions" 2>/dev/null && compgen -G "$venv/lib/libmkl_rt.so*" >/dev/null; then
  echo "setup.sh: everything is installed in $venv"
  exit 0
fi

sudo=""
[[ "$(id -u)" -eq 0 ]] || sudo="sudo"

if [[ ! -x "$py" ]]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian ships venv's pip bootstrap (ensurepip) separately.
    rm -rf "$venv"
    echo "setup.sh: python3 -m venv needs python3-venv; installing it with apt-get"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq python3-venv
    python3 -m venv "$venv"
  fi
fi
pip=("$py" -m pip install --quiet --disable-pip-version-check)

"${pip[@]}" --upgrade pip
"${pip[@]}" tensorflow-cpu keras numpy mkl

"${pip[@]}" --no-deps torch
# torch's requirements, read from its metadata: everything except triton,
# cuda-bindings and the optional extras.
mapfile -t torch_requirements < <("$py" - <<'EOF'
from importlib.metadata import requires
from packaging.requirements import Requirement  # installed with tensorflow

for line in requires("torch"):
    r = Requirement(line)
    if r.name in ("triton", "cuda-bindings"):
        continue
    if r.marker is not None and not r.marker.evaluate({"extra": ""}):
        continue
    print(line.split(";")[0].strip())
EOF
)
# pip then notes that torch's triton and cuda-bindings requirements are unmet: expected.
"${pip[@]}" "${torch_requirements[@]}"

"$py" -c "$versions"
echo "setup.sh: done; run the suite with $venv/bin/python $here/run.py"
