// Command caravana is the whole program: CLI, web server and all logic.
// main only wires: the commands live in internal/cli.
package main

import (
	"context"
	"os"

	"caravana/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
