// The classic Go chat client, kept to check that it works against gochat serve.
//
// Changed from the original only so that it compiles and tests can point it anywhere:
// the unused "fmt" import is gone, and the address comes from the first argument
// (default localhost:8000, as before).
package main

import (
	"io"
	"log"
	"net"
	"os"
)

func main() {
	addr := "localhost:8000"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	go mustCopy(os.Stdout, conn)
	mustCopy(conn, os.Stdin)
}

func mustCopy(dst io.Writer, src io.Reader) {
	if _, err := io.Copy(dst, src); err != nil {
		log.Fatal(err)
	}
}
