module github.com/calsync/calsync

go 1.26.0

require (
	github.com/google/uuid v1.6.0 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
	google.golang.org/api v0.312.0 // indirect
)
