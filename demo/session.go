package demo

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// session reads the demo's command lines: with a prompt when stdin is a
// terminal, each line echoed when it is not (a script, so the output reads
// as a transcript); blank lines and # comments are skipped, "quit" or
// "exit" ends.
type session struct {
	sc          *bufio.Scanner
	out         io.Writer
	interactive bool
}

func newSession(stdin io.Reader, stdout io.Writer, interactive bool) *session {
	return &session{sc: bufio.NewScanner(stdin), out: stdout, interactive: interactive}
}

// next is the next command line; false at the end.
func (s *session) next() (string, bool) {
	for {
		if s.interactive {
			fmt.Fprint(s.out, "\n> ")
		}
		if !s.sc.Scan() {
			return "", false
		}
		line := strings.TrimSpace(s.sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "quit" || line == "exit" {
			return "", false
		}
		if !s.interactive {
			fmt.Fprintf(s.out, "\n> %s\n", line)
		}
		return line, true
	}
}

// answer reads the reply to a question the demo asked; false at the end.
func (s *session) answer() (string, bool) {
	if !s.sc.Scan() {
		return "", false
	}
	return strings.TrimSpace(s.sc.Text()), true
}
