/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 3720 / RFC 4960 appendix B): the checksum
 * Google Cloud Storage verifies on uploads and keeps for every object. */
#ifndef SNAPFS_CRC32C_H
#define SNAPFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Continue a CRC over n more bytes: start with crc = 0; crc32c("123456789") is 0xE3069283. Uses the
 * SSE4.2 instruction where the CPU has it, tables otherwise. */
uint32_t crc32c_update(uint32_t crc, const void *p, size_t n);
/* The table-driven version alone (slicing by 8), for tests against the hardware path. */
uint32_t crc32c_update_sw(uint32_t crc, const void *p, size_t n);
/* Continue a CRC over a byte range of a file (read in blocks). 0 or -errno (-EIO on a short file). */
int crc32c_fd(uint32_t *crc, int fd, off_t off, uint64_t len);
/* The CRC of A followed by B from the CRC of A, the CRC of B and B's length (zlib's method): what GCS
 * reports for an object composed of A and B. */
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
/* GCS's text form: base64 of the 4 bytes in big-endian order, e.g. "4waSgw==". out: 9 bytes. */
void crc32c_base64(uint32_t crc, char out[9]);
/* The reverse; 0, or -EINVAL when s is not 4 bytes of base64. */
int crc32c_from_base64(const char *s, uint32_t *crc);

#endif
