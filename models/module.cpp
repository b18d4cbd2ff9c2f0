#include "models/module.h"
