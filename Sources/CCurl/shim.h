#ifndef WINNOW_CCURL_SHIM_H
#define WINNOW_CCURL_SHIM_H
#include <curl/curl.h>
#include <sys/socket.h>
#include <netinet/in.h>

// curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, which Swift cannot call:
// these typed wrappers pass each argument kind explicitly.
static inline CURLcode winnow_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode winnow_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode winnow_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode winnow_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode winnow_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode winnow_easy_setopt_share(CURL *h, CURLSH *v) { return curl_easy_setopt(h, CURLOPT_SHARE, v); }

typedef size_t (*winnow_write_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode winnow_easy_setopt_write(CURL *h, CURLoption o, winnow_write_callback cb) { return curl_easy_setopt(h, o, cb); }

typedef curl_socket_t (*winnow_opensocket_callback)(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);
static inline CURLcode winnow_easy_setopt_opensocket(CURL *h, winnow_opensocket_callback cb) {
    return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, cb);
}

static inline CURLcode winnow_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode winnow_easy_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode winnow_easy_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode winnow_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

// glibc's memmem (two-way search: linear time), which robots.txt matching uses; a GNU extension that Swift's Glibc
// module does not declare.
void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
static inline const void *winnow_memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen) {
    return memmem(haystack, haystacklen, needle, needlelen);
}

static inline CURLMcode winnow_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLSHcode winnow_share_setopt_long(CURLSH *s, CURLSHoption o, long v) { return curl_share_setopt(s, o, v); }

// The address a socket is about to connect to, as text, and its family (AF_INET or AF_INET6).
static inline int winnow_sockaddr_family(const struct curl_sockaddr *a) { return a->family; }
static inline const struct sockaddr *winnow_sockaddr_addr(const struct curl_sockaddr *a) { return &a->addr; }
static inline int winnow_sockaddr_socktype(const struct curl_sockaddr *a) { return a->socktype; }
static inline int winnow_sockaddr_protocol(const struct curl_sockaddr *a) { return a->protocol; }
#endif
