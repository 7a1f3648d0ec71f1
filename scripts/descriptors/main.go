// Command descriptors writes, as ProtoJSON on standard output, the FileDescriptorSet of every .proto file linked
// into it: the whole Envoy API of the go-control-plane module pinned in go.mod (each generated .pb.go embeds its
// FileDescriptorProto), with the xds, udpa, validate, googleapis and well-known files they import. Field, message
// and oneof options keep their extensions (validate.rules and friends), which the generator reads.
//
// scripts/generate.mjs runs it; imports.go, which links every package in, is written by that script too.
package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

func main() {
	var files []*descriptorpb.FileDescriptorProto
	var failure error
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		// Re-read the options with every linked extension known, so that custom options are fields, not unknown bytes.
		raw, err := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
		if err != nil {
			failure = err
			return false
		}
		file := &descriptorpb.FileDescriptorProto{}
		if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, file); err != nil {
			failure = err
			return false
		}
		files = append(files, file)
		return true
	})
	if failure != nil {
		fmt.Fprintln(os.Stderr, failure)
		os.Exit(1)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].GetName() < files[j].GetName() })
	out, err := (protojson.MarshalOptions{Resolver: protoregistry.GlobalTypes, UseProtoNames: true}).Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	w.Write(out)
	w.WriteString("\n")
	w.Flush()
}
