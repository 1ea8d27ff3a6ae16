#include "trace/trace-hw_blade.h"
