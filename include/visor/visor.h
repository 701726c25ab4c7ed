/* visor — public API, all layers. */
#ifndef VISOR_VISOR_H
#define VISOR_VISOR_H
#include <visor/isa.h>
#include <visor/vm.h>
#include <visor/runtime.h>
#include <visor/verifier.h>
#endif
