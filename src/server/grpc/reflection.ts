/**
 * Server reflection, v1 and v1alpha (docs/PROTOCOL.md, "gRPC": generic tools list
 * and call the service without the .proto file). The descriptors served are
 * the ones protobuf-es embeds in gen/, encoded back to FileDescriptorProtos
 * with their imports: proto-loader's own descriptors misname map entries,
 * which strict clients reject (STACK.md).
 */
import { toBinary, type DescFile, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';

/** The file of `service` and every file it imports, transitively, each once. */
function fileWithImports(file: DescFile, seen = new Set<DescFile>()): DescFile[] {
  if (seen.has(file)) return [];
  seen.add(file);
  return [file, ...file.dependencies.flatMap((dep) => fileWithImports(dep, seen))];
}

export function addReflection(server: Server, services: readonly DescService[]): void {
  const pkg: ConstructorParameters<typeof ReflectionService>[0] = {};
  for (const service of services) {
    pkg[service.typeName] = {
      format: 'Protocol Buffer 3 DescriptorProto',
      type: {},
      fileDescriptorProtos: fileWithImports(service.file).map((f) => {
        const bytes = toBinary(FileDescriptorProtoSchema, f.proto);
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      }),
    };
  }
  new ReflectionService(pkg).addToServer(server);
}
