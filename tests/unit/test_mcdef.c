#include "config.h"
#include <criterion/criterion.h>
#include "mcdef.h"
Test(mcdef, placeholder) { cr_assert(1); }
