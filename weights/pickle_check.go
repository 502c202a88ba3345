package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// checkPickle walks the opcodes of a pickle stream (protocols 0-5) up to
// STOP and rejects any length argument larger than the bytes that follow.
// gopickle allocates such lengths before reading them, so a corrupt file
// could otherwise ask for gigabytes.
func checkPickle(data []byte) error {
	for pos := 0; pos < len(data); {
		if data[pos] == '.' { // STOP
			return nil
		}
		next, err := skipPickleOp(data, pos)
		if err != nil {
			return err
		}
		pos = next
	}
	return fmt.Errorf("pickle: no STOP opcode")
}

// skipPickleOp returns the position after the opcode at pos and its
// argument, checking that the argument fits in data.
func skipPickleOp(data []byte, pos int) (int, error) {
	op := data[pos]
	pos++
	switch op {
	case '(', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 'u', 't', ')',
		0x85, 0x86, 0x87, 0x88, 0x89, 0x81, 0x92, 0x93, 0x94, 0x8f, 0x90, 0x91, 0x97, 0x98, 'Q':
		return pos, nil
	case 'K', 'h', 'q', 0x80, 0x82:
		return skipBytes(data, pos, 1)
	case 'M', 0x83:
		return skipBytes(data, pos, 2)
	case 'J', 'j', 'r', 0x84:
		return skipBytes(data, pos, 4)
	case 'G':
		return skipBytes(data, pos, 8)
	case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p':
		return skipLines(data, pos, 1)
	case 'c', 'i': // module and name lines
		return skipLines(data, pos, 2)
	case 'U', 'C', 0x8c, 0x8a:
		return skipCounted(data, pos, 1)
	case 'T', 'X', 'B', 0x8b:
		return skipCounted(data, pos, 4)
	case 0x8d, 0x8e, 0x96:
		return skipCounted(data, pos, 8)
	case 0x95: // FRAME: the framed opcodes follow their 8-byte length
		n, pos, err := readLength(data, pos, 8)
		if err != nil {
			return 0, err
		}
		if _, err := skipBytes(data, pos, n); err != nil {
			return 0, err
		}
		return pos, nil
	}
	return 0, fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", op, pos-1)
}

// skipBytes returns pos+n, or an error when fewer than n bytes are left.
func skipBytes(data []byte, pos int, n uint64) (int, error) {
	if n > uint64(len(data)-pos) {
		return 0, fmt.Errorf("pickle: opcode at byte %d needs %d bytes, %d left", pos, n, len(data)-pos)
	}
	return pos + int(n), nil
}

// skipLines returns the position after the next n newline-terminated lines.
func skipLines(data []byte, pos, n int) (int, error) {
	for range n {
		nl := bytes.IndexByte(data[pos:], '\n')
		if nl < 0 {
			return 0, fmt.Errorf("pickle: unterminated line at byte %d", pos)
		}
		pos += nl + 1
	}
	return pos, nil
}

// skipCounted skips a byte string preceded by its little-endian length of
// width bytes.
func skipCounted(data []byte, pos, width int) (int, error) {
	n, pos, err := readLength(data, pos, width)
	if err != nil {
		return 0, err
	}
	return skipBytes(data, pos, n)
}

// readLength reads a little-endian length of width (1, 4 or 8) bytes at pos
// and returns it with the position after it.
func readLength(data []byte, pos, width int) (uint64, int, error) {
	if _, err := skipBytes(data, pos, uint64(width)); err != nil {
		return 0, 0, err
	}
	switch width {
	case 1:
		return uint64(data[pos]), pos + 1, nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(data[pos:])), pos + 4, nil
	}
	return binary.LittleEndian.Uint64(data[pos:]), pos + 8, nil
}
