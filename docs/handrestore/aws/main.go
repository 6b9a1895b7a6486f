// Command aws is the one piece of the AWS CLI that docs/restore-by-hand.md
// uses, for machines without it (CI):
//
//	aws [--endpoint-url URL] s3 presign s3://BUCKET/KEY --expires-in SECONDS
//
// It prints a presigned GET URL, as the AWS CLI does. Credentials come only
// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; the
// region from AWS_REGION or AWS_DEFAULT_REGION (us-east-1 when neither is
// set). With --endpoint-url, addresses are path-style, as the page asks the
// real CLI to be configured. Anything else is refused, so that the page
// cannot come to rely on something this stand-in does differently.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "aws:", err)
		os.Exit(252) // The AWS CLI's status for a command line it cannot parse.
	}
}

const usage = "usage: aws [--endpoint-url URL] s3 presign s3://BUCKET/KEY --expires-in SECONDS"

func run(ctx context.Context, args []string) error {
	var endpoint string
	if len(args) >= 2 && args[0] == "--endpoint-url" {
		endpoint, args = args[1], args[2:]
	}
	if len(args) != 5 || args[0] != "s3" || args[1] != "presign" || args[3] != "--expires-in" {
		return errors.New(usage)
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(args[2], "s3://"), "/")
	if !strings.HasPrefix(args[2], "s3://") || !ok || bucket == "" || key == "" {
		return fmt.Errorf("%q is not s3://BUCKET/KEY", args[2])
	}
	secs, err := strconv.Atoi(args[4])
	if err != nil || secs < 1 || secs > 604800 {
		return fmt.Errorf("--expires-in %q: want 1 to 604800 seconds", args[4])
	}
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return errors.New("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	opts := s3.Options{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN")),
	}
	if endpoint != "" {
		opts.BaseEndpoint, opts.UsePathStyle = aws.String(endpoint), true
	}
	req, err := s3.NewPresignClient(s3.New(opts)).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		s3.WithPresignExpires(time.Duration(secs)*time.Second))
	if err != nil {
		return fmt.Errorf("cannot presign: %w", err)
	}
	fmt.Println(req.URL)
	return nil
}
