/* make dist-test: the library and the header that an artifact installed agree on the version.
 * usage: version EXPECTED */
#include <stdio.h>
#include <string.h>
#include "zcopy.h"

int main(int argc, char **argv) {
    char header[32];
    snprintf(header, sizeof header, "%d.%d.%d", ZC_VERSION_MAJOR, ZC_VERSION_MINOR, ZC_VERSION_PATCH);
    printf("zc_version() = %s, zcopy.h = %s\n", zc_version(), header);
    if (argc != 2 || strcmp(zc_version(), argv[1]) != 0 || strcmp(header, argv[1]) != 0) {
        fprintf(stderr, "expected %s\n", argc == 2 ? argv[1] : "(no version given)");
        return 1;
    }
    return 0;
}
