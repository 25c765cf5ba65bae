#include "engine_internal.h"
