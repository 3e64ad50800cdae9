// SPDX-License-Identifier: MIT

// An HTTPS server and client on Go's crypto/tls, for tests that read TLS
// plaintext out of Go programs.  Standard library only.
//
//	tls_server serve [-port N] [-delay D] [-http2]
//	    Listens on 127.0.0.1:N (0: any free port) with a self-signed
//	    certificate made at start, prints "listening PORT", and answers
//	    GET with 200 "go-tls-get\n" and POST (after reading the body) with
//	    200 "go-tls-post\n", each after waiting D (a Go duration).
//	tls_server get [-n N] [-method GET|POST] [-body TEXT] [-http2] URL
//	    Sends N requests on one keep-alive connection (certificates are
//	    not verified), prints "status CODE" per answer, then "done N".
//
// HTTP/1.1 unless -http2: the decoders that read these streams are
// HTTP/1.x ones, and Go would otherwise choose HTTP/2 by ALPN.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for
// a day, so the program needs no files.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	port := fs.Int("port", 0, "port on 127.0.0.1 (0: any)")
	delay := fs.Duration("delay", 0, "wait before each answer")
	h2 := fs.Bool("http2", false, "offer HTTP/2 by ALPN")
	fs.Parse(args)

	cert, err := selfSigned()
	if err != nil {
		return err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(*delay)
		switch r.Method {
		case http.MethodGet:
			io.WriteString(w, "go-tls-get\n")
		case http.MethodPost:
			io.WriteString(w, "go-tls-post\n")
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	srv := &http.Server{Handler: handler}
	if !*h2 {
		// A non-nil empty map turns Go's automatic HTTP/2 off.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		return err
	}
	tlsLn := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	return srv.Serve(tlsLn)
}

func get(args []string) error {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	n := fs.Int("n", 1, "requests to send")
	method := fs.String("method", "GET", "GET or POST")
	body := fs.String("body", "hello", "POST body")
	h2 := fs.Bool("http2", false, "allow HTTP/2")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("get: one URL expected")
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: *h2,
		MaxIdleConns:      1,
	}
	if !*h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: tr}
	for i := 0; i < *n; i++ {
		var rd io.Reader
		if *method == http.MethodPost {
			rd = strings.NewReader(*body)
		}
		req, err := http.NewRequest(*method, fs.Arg(0), rd)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Read to the end so the connection is reused for the next one.
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("status %d\n", resp.StatusCode)
	}
	fmt.Printf("done %d\n", *n)
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tls_server serve|get ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_server:", err)
		os.Exit(1)
	}
}
