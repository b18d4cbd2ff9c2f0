#include "tensor/dtype.h"
