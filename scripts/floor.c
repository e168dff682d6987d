/* The floor for reading a pcap file on this machine: walk its records
 * through a memory mapping and count the TCP SYNs (IPv4 over Ethernet, no
 * VLAN), nothing else. scripts/bench.sh builds and times it beside the
 * sensor and tcpdump. Usage: floor FILE.pcap */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: floor FILE.pcap\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) {
		perror(argv[1]);
		return 1;
	}
	const uint8_t *m = mmap(0, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise((void *)m, st.st_size, MADV_SEQUENTIAL);
	size_t len = st.st_size, pos = 24, n = 0, syns = 0;
	while (pos + 16 <= len) {
		uint32_t incl;
		memcpy(&incl, m + pos + 8, 4);
		const uint8_t *d = m + pos + 16;
		if (pos + 16 + 48 <= len && d[12] == 8 && d[13] == 0 && d[23] == 6 && (d[47] & 0x12) == 2)
			syns++;
		pos += 16 + (size_t)incl;
		n++;
	}
	printf("%zu records, %zu SYNs\n", n, syns);
	return 0;
}
