package memd

import (
	"context"
	"io"

	memdv1 "github.com/memd-dev/memd/clients/go/gen/memd/v1"
)

// The memd.v1 messages of BatchSearch and Transfer.
type (
	BatchSearchRequest = memdv1.BatchSearchRequest
	TransferRequest    = memdv1.TransferRequest
	TransferResponse   = memdv1.TransferResponse
)

// What Transfer does with a key the target namespace holds (TransferRequest.OnConflict).
const (
	TransferConflictFail      = memdv1.TransferConflict_TRANSFER_CONFLICT_FAIL
	TransferConflictSkip      = memdv1.TransferConflict_TRANSFER_CONFLICT_SKIP
	TransferConflictOverwrite = memdv1.TransferConflict_TRANSFER_CONFLICT_OVERWRITE
)

// What Transfer does with an embedding of another dimension than the target's
// (TransferRequest.OnDimensionMismatch).
const (
	TransferDimensionFail          = memdv1.TransferDimension_TRANSFER_DIMENSION_FAIL
	TransferDimensionSkip          = memdv1.TransferDimension_TRANSFER_DIMENSION_SKIP
	TransferDimensionDropEmbedding = memdv1.TransferDimension_TRANSFER_DIMENSION_DROP_EMBEDDING
)

// Pattern search (SearchRequest.Pattern, .PatternSyntax; SearchModePattern ranks the
// matches by recency, frequency and importance only).
const (
	PatternGlob       = memdv1.PatternSyntax_PATTERN_SYNTAX_GLOB
	PatternRegex      = memdv1.PatternSyntax_PATTERN_SYNTAX_REGEX
	SearchModePattern = memdv1.SearchMode_SEARCH_MODE_PATTERN
)

// Hybrid search's fusion options (SearchRequest.Fusion, .KeywordWeight, .CosineScale,
// .RrfDepth; docs/search.md#recall for the server's defaults).
const (
	SearchModeHybrid  = memdv1.SearchMode_SEARCH_MODE_HYBRID
	FusionWeighted    = memdv1.Fusion_FUSION_WEIGHTED
	FusionRRF         = memdv1.Fusion_FUSION_RRF
	CosineScaleNone   = memdv1.CosineScale_COSINE_SCALE_NONE
	CosineScaleMinMax = memdv1.CosineScale_COSINE_SCALE_MINMAX
	CosineScaleZScore = memdv1.CosineScale_COSINE_SCALE_ZSCORE
)

// BatchSearch runs every query of req in one call (one namespace; each query is
// req.Shared with the query's own fields in their place) and returns each query's hits,
// best first, in query order. One invalid query fails the call with ErrInvalidArgument
// naming its index, and nothing is recorded.
func (c *Client) BatchSearch(ctx context.Context, req *BatchSearchRequest) ([][]*SearchHit, error) {
	stream, err := c.rpc.BatchSearch(withNamespace(ctx, req.GetNamespace()), req)
	if err != nil {
		return nil, wrap("BatchSearch", err)
	}
	out := make([][]*SearchHit, len(req.GetQueries()))
	for {
		page, err := stream.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, wrap("BatchSearch", err)
		}
		i := int(page.GetQueryIndex())
		if i < len(out) {
			out[i] = append(out[i], page.GetHits()...)
		}
	}
}

// Transfer moves (req.Move) or copies memories, req.Keys or the whole namespace
// (req.WholeNamespace), from req.Namespace to req.TargetNamespace in one transaction.
// A key the target holds fails the call with ErrAlreadyExists unless req.OnConflict says
// to skip or overwrite it; an embedding of another dimension fails it with
// ErrInvalidArgument unless req.OnDimensionMismatch says to skip the memory or drop the
// embedding. Nothing is transferred when the call fails.
func (c *Client) Transfer(ctx context.Context, req *TransferRequest) (*TransferResponse, error) {
	resp, err := c.rpc.Transfer(withNamespace(ctx, req.GetNamespace()), req)
	if err != nil {
		return nil, wrap("Transfer", err)
	}
	return resp, nil
}

// Clear deletes every memory of one tier of namespace (TierUnspecified: of every tier)
// and returns how many were removed. The namespace stays; ErrNotFound if it does not
// exist.
func (c *Client) Clear(ctx context.Context, namespace string, tier Tier) (int, error) {
	resp, err := c.rpc.Clear(withNamespace(ctx, namespace), &memdv1.ClearRequest{Namespace: namespace, Tier: tier})
	if err != nil {
		return 0, wrap("Clear", err)
	}
	return int(resp.GetRemoved()), nil
}
