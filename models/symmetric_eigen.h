#pragma once
// Eigenvalues (and eigenvectors) of a small dense symmetric matrix by cyclic
// Jacobi rotations: slow for large n, but exact to rounding, dependency-free,
// and ample for the 80 x 80 covariances of the Fréchet distance
// (models/audio_metrics.h).
#include <vector>

namespace mg::nn {

// Eigenvalues of a symmetric matrix a [n][n] (row-major), in no particular
// order; the eigenvectors go to v as columns ([n][n], row-major) when v is
// given. Sweeps until the off-diagonal mass is below 1e-24 of the total, at
// most 100 times.
std::vector<double> symmetric_eigen(std::vector<double> a, int n, std::vector<double>* v);

}  // namespace mg::nn
