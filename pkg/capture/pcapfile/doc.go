// Package pcapfile reads capture files (classic pcap, microsecond or
// nanosecond, either byte order; pcapng, any number of sections; each plain,
// gzip- (any number of members, zero padding after the last) or
// zstd-compressed) and presents any number of them as one
// capture.Source whose packets come out merged in timestamp order.
//
// It owns the on-disk formats: file and directory listing, format and
// compression detection, record and block parsing, timestamp conversion, the
// k-way merge and per-input error reporting through *capture.InputError. It
// does not interpret packet contents.
//
// # Inputs
//
// Open takes paths; a path naming a directory contributes every regular file
// below it, recursively, sorted by full path (byte-wise lexical order).
// Entries whose name starts with '.' are skipped (files and directories) and
// symbolic links to directories are not followed (no cycles); symbolic links
// to regular files are read. A path given explicitly is always read, whatever
// its name or type. A path that does not exist but holds glob characters
// (* ? [) is a pattern (filepath.Glob), its matches read in name order: a
// config file's list has no shell to expand it. A path that does not
// exist (or a pattern that matches nothing), a directory that cannot be
// listed or a file that cannot be opened is not an error of Open: it becomes
// an *capture.InputError returned by Next at that input's place in the
// order, so the other inputs still go on. Open fails only when given no
// path at all.
//
// All inputs are opened at the first call to Next (the merge needs the first
// packet of each). Past the first 256 (fewer when the descriptor limit is
// low: a quarter of it), a file is let go after its first packet and opened
// again when that packet's turn comes, so a directory of thousands of
// rotated captures needs few descriptors and mappings at once. Each input
// gets a 1 MiB read buffer; with more than 64 inputs the buffer shrinks
// (64 MiB in total, at least 64 KiB each). A file releases its buffers and
// descriptor as soon as it is exhausted or failed.
//
// # Ordering
//
// Packets of one file come in file order, even when its timestamps go
// backwards. Across files, Next always returns the pending packet with the
// smallest timestamp; ties go to the input listed first. The result is
// deterministic.
//
// # Timestamps
//
// Timestamps are nanoseconds since the Unix epoch.
//   - pcap: a fractional part at or above one second (1e6 µs or 1e9 ns, as in
//     tcpdump's timestamp_invalid_micro.pcap) is not an error; the excess is
//     carried into the seconds (sec*1e9 + frac*unit), as if normalised.
//   - pcapng: if_tsresol 10^-n and 2^-n are converted exactly (rounded down
//     to the nanosecond for finer resolutions); if_tsoffset seconds are
//     added. Values beyond 2^62 ns either side of 1970 (the years 1823 to
//     2116) saturate there instead of failing, so the engine can still align
//     a window to them.
//   - pcapng Simple Packet Blocks carry no timestamp: they get the timestamp
//     of the previous packet of the same section, or 0 if they are the first
//     packet of their section. Their captured length is the smallest of the
//     original length, the interface snaplen (when not 0) and the block body.
//
// # Errors
//
// A malformed input (not a capture, truncated header or record, absurd
// length, unsupported version, bad block, bad gzip or zstd stream, I/O error) stops
// that input only: Next returns one *capture.InputError carrying the file,
// the 1-based number of the packet that could not be read (0 when the
// failure is in the file header, i.e. before the first packet and not in a
// packet record) and the offset in the decompressed stream where the bad
// record or block starts (-1 when the file could not be opened). A file
// that ends cleanly between records is not an error. Nothing ever panics
// on bad input, and no size read from a file is allocated before being
// checked against MaxRecordLen (pcap) or MaxBlockLen (pcapng); buffers for
// large blocks grow only as data actually arrives. A pcapng packet block
// longer than a pcap record may be is not held whole: its packet comes with
// its bytes when at most MaxRecordLen are captured (the rest of the block
// being options), else without them (CapLen 0, OrigLen as written), so an
// input's pending packet costs at most MaxRecordLen beyond its buffer.
//
// # Dependencies
//
// This package imports only the standard library and package capture. It
// must not import the decoder, the engine, gopacket (tests may use
// gopacket/pcapgo to write fixtures) or any logger.
package pcapfile
