/* fixture: zseek may not include libcurl */
#include <curl/curl.h>
