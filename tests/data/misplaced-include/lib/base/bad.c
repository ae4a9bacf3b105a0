/* fixture: base may not use the registry module */
#include "registry/registry.h"
