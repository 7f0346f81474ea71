package bulk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"tranche.dev/tranche/core"
)

// Groups searches the server's Groups, first page (GET [base]/Group;
// FHIR R4, RESTful API: search), for picking a Group-level export.
func (c *Client) Groups(ctx context.Context) ([]core.Group, error) {
	resp, err := c.getFHIR(ctx, "/Group?_count=200&_elements=name,quantity", "group search")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
				Name         string `json:"name"`
				Quantity     int    `json:"quantity"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&bundle); err != nil {
		return nil, fmt.Errorf("group search: %w", err)
	}
	var groups []core.Group
	for _, e := range bundle.Entry {
		if r := e.Resource; r.ResourceType == "Group" && r.ID != "" {
			groups = append(groups, core.Group{ID: r.ID, Name: r.Name, Quantity: r.Quantity})
		}
	}
	return groups, nil
}
