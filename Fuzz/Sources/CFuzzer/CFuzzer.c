// Header-only module: the declaration of libFuzzer's driver is all this target provides.
#include "CFuzzer.h"
