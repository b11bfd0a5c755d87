/* The header included twice in one translation unit (the include guard holds), and usable on
 * its own without any other header before it. */
#include "zcopy.h"
#include "zcopy.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    if (strcmp(zc_version(), ZC_CARGO_VERSION) != 0 || zc_version_number() != ZC_VERSION_NUMBER) {
        printf("header_twice: version mismatch: %s\n", zc_version());
        return 1;
    }
    printf("header_twice: 1 passed, 0 failed\n");
    return 0;
}
