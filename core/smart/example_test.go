package smart_test

import (
	"context"
	"fmt"
	"net/http"

	"tranche.dev/tranche/core/demo"
	"tranche.dev/tranche/core/smart"
	samplejwks "tranche.dev/tranche/sample-jwks"
)

// Example shows the whole client side: discover the token endpoint, build a
// Config, and get an *http.Client that authenticates to the FHIR server only.
func Example() {
	srv := demo.NewServer(demo.Config{Patients: 5})
	if err := srv.Open(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()

	d, err := smart.Discover(ctx, nil, srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	raw, _ := samplejwks.File("RS384.private.json")
	key, err := smart.ParseKey(raw, smart.RS384)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := &smart.Config{
		ClientID: demo.DemoClientRS384,
		TokenURL: d.TokenEndpoint,
		Scopes:   []string{"system/*.rs"},
		Key:      key,
	}
	client, err := smart.NewClient(nil, cfg.TokenSource(ctx), srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := client.Get(srv.URL() + "/Group")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode == http.StatusOK)
	// Output: true
}
