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
	pos := 0
	need := func(n uint64) error {
		if n > uint64(len(data)-pos) {
			return fmt.Errorf("pickle: opcode at byte %d needs %d bytes, %d left", pos, n, len(data)-pos)
		}
		return nil
	}
	for pos < len(data) {
		op := data[pos]
		pos++
		var skip uint64
		switch op {
		case '.': // STOP
			return nil
		case '(', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 'u', 't', ')',
			0x85, 0x86, 0x87, 0x88, 0x89, 0x81, 0x92, 0x93, 0x94, 0x8f, 0x90, 0x91, 0x97, 0x98, 'Q':
		case 'K', 'h', 'q', 0x80, 0x82:
			skip = 1
		case 'M', 0x83:
			skip = 2
		case 'J', 'j', 'r', 0x84:
			skip = 4
		case 'G':
			skip = 8
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p', 'c', 'i':
			lines := 1
			if op == 'c' || op == 'i' {
				lines = 2
			}
			for range lines {
				nl := bytes.IndexByte(data[pos:], '\n')
				if nl < 0 {
					return fmt.Errorf("pickle: unterminated line at byte %d", pos)
				}
				pos += nl + 1
			}
		case 'U', 'C', 0x8c, 0x8a: // 1-byte length
			if err := need(1); err != nil {
				return err
			}
			skip = uint64(data[pos])
			pos++
		case 'T', 'X', 'B', 0x8b: // 4-byte length
			if err := need(4); err != nil {
				return err
			}
			skip = uint64(binary.LittleEndian.Uint32(data[pos:]))
			pos += 4
		case 0x8d, 0x8e, 0x96: // 8-byte length
			if err := need(8); err != nil {
				return err
			}
			skip = binary.LittleEndian.Uint64(data[pos:])
			pos += 8
		case 0x95: // FRAME: 8-byte length, the framed opcodes follow
			if err := need(8); err != nil {
				return err
			}
			n := binary.LittleEndian.Uint64(data[pos:])
			pos += 8
			if err := need(n); err != nil {
				return err
			}
		default:
			return fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", op, pos-1)
		}
		if err := need(skip); err != nil {
			return err
		}
		pos += int(skip)
	}
	return fmt.Errorf("pickle: no STOP opcode")
}
