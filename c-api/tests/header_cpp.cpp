// The header from C++: it compiles with -Wall -Wextra -Werror -pedantic, the declarations have C
// linkage (this program links against libzcopy), and the plain-data structs are usable.
#include "zcopy.h"

#include <cstdio>
#include <cstring>

int main() {
    zc_region *region = nullptr;
    zc_result rc = zc_region_map(-1, ZC_MAP_READ_ONLY, 0, 1, 0, &region);
    zc_transfer t{};
    zc_event ev{};
    bool ok = rc == ZC_ERR_CLOSED && region == nullptr && t.bytes == 0 && ev.token == 0 &&
              std::strcmp(zc_result_str(rc), "ZC_ERR_CLOSED") == 0 && zc_region_free(nullptr) == ZC_OK;
    std::printf("header_cpp: %d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
