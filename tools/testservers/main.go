// Command testservers starts a throwaway test server in Docker for
// statefold's backend tests, when no server address is given to them:
//
//	go run . mysql|dynamodb|postgres
//
// It prints one line, "ADDR <address>" (a MySQL DSN, a DynamoDB endpoint
// URL or a PostgreSQL connection string), then waits until its standard
// input closes (the test binary that started it exits) and removes the
// container. Without a healthy Docker engine it exits with status 3.
//
// It is a module of its own so that testcontainers and the Docker client
// never become dependencies of statefold's module, and so never of its
// users.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcmysql "github.com/testcontainers/testcontainers-go/modules/mysql"
	"github.com/testcontainers/testcontainers-go/wait"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testservers mysql|dynamodb|postgres")
		os.Exit(2)
	}
	ctx := context.Background()
	if !dockerHealthy(ctx) {
		fmt.Fprintln(os.Stderr, "testservers: no healthy Docker engine")
		os.Exit(3)
	}
	addr, c, err := start(ctx, os.Args[1])
	if c != nil {
		defer func() {
			if err := testcontainers.TerminateContainer(c); err != nil {
				fmt.Fprintln(os.Stderr, "testservers: terminate:", err)
			}
		}()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testservers:", err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s\n", addr)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test binary exits
}

func dockerHealthy(ctx context.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return false
	}
	defer p.Close()
	return p.Health(ctx) == nil
}

func start(ctx context.Context, kind string) (string, testcontainers.Container, error) {
	switch kind {
	case "mysql":
		c, err := tcmysql.Run(ctx, "mysql:8", tcmysql.WithDatabase("test"))
		if err != nil {
			return "", c, err
		}
		dsn, err := c.ConnectionString(ctx)
		return dsn, c, err
	case "dynamodb":
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image:        "amazon/dynamodb-local:latest",
				Cmd:          []string{"-jar", "DynamoDBLocal.jar", "-inMemory"},
				ExposedPorts: []string{"8000/tcp"},
				// Any HTTP answer (DynamoDB Local says 400 to a bare GET)
				// means the server is up, not just its port.
				WaitingFor: wait.ForHTTP("/").WithPort("8000/tcp").
					WithStatusCodeMatcher(func(int) bool { return true }).
					WithStartupTimeout(2 * time.Minute),
			},
			Started: true,
		})
		if err != nil {
			return "", c, err
		}
		return hostPort(ctx, c, "8000/tcp", "http://%s:%s")
	case "postgres":
		c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
			ContainerRequest: testcontainers.ContainerRequest{
				Image:        "postgres:16",
				Env:          map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust", "POSTGRES_DB": "test"},
				ExposedPorts: []string{"5432/tcp"},
				WaitingFor:   wait.ForListeningPort("5432/tcp").WithStartupTimeout(2 * time.Minute),
			},
			Started: true,
		})
		if err != nil {
			return "", c, err
		}
		return hostPort(ctx, c, "5432/tcp", "postgres://postgres@%s:%s/test?sslmode=disable")
	}
	return "", nil, fmt.Errorf("unknown server %q (mysql, dynamodb or postgres)", kind)
}

func hostPort(ctx context.Context, c testcontainers.Container, port, format string) (string, testcontainers.Container, error) {
	host, err := c.Host(ctx)
	if err != nil {
		return "", c, err
	}
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", c, err
	}
	return fmt.Sprintf(format, host, p.Port()), c, nil
}
