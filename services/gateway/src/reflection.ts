import {
  create,
  createRegistry,
  type DescFile,
  type DescService,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionResponseSchema,
} from "@mypay/proto/grpc/reflection/v1/reflection";

export { ServerReflection };

/** gRPC status NOT_FOUND, as the reflection protocol reports it inside an error_response. */
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

type Answer = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/**
 * grpc.reflection.v1.ServerReflection over the given services, so `grpcurl` and grpc-js clients can
 * discover the API. Answers list_services, file_containing_symbol (services, methods, messages, enums,
 * nested types) and file_by_filename, each file sent with all its transitive dependencies.
 */
export function reflectionService(services: readonly DescService[]): ServiceImpl<typeof ServerReflection> {
  const all = [...services, ServerReflection];
  const files = new Map<string, DescFile>();
  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const dep of file.dependencies) addFile(dep);
  };
  for (const service of all) addFile(service.file);
  const registry = createRegistry(...files.values());
  const names = all.map((s) => s.typeName).sort();

  const fileOfSymbol = (symbol: string): DescFile | undefined => {
    const found = registry.get(symbol);
    if (found && "file" in found) return found.file;
    // `<package>.<Service>.<Method>`: the service's file.
    const parent = symbol.slice(0, Math.max(0, symbol.lastIndexOf(".")));
    const service = registry.getService(parent);
    return service?.methods.some((m) => `${parent}.${m.name}` === symbol) ? service.file : undefined;
  };

  const error = (errorCode: number, errorMessage: string): Answer => ({
    case: "errorResponse",
    value: { errorCode, errorMessage },
  });
  const withDependencies = (file: DescFile | undefined, what: string): Answer => {
    if (!file) return error(NOT_FOUND, `${what} not found`);
    const ordered: DescFile[] = [];
    const visit = (f: DescFile) => {
      if (ordered.includes(f)) return;
      ordered.push(f);
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return {
      case: "fileDescriptorResponse",
      value: { fileDescriptorProto: ordered.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
    };
  };
  const answer = (req: ServerReflectionRequest): Answer => {
    const request = req.messageRequest;
    switch (request.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: names.map((name) => ({ name })) } };
      case "fileByFilename":
        return withDependencies(files.get(request.value), `file ${request.value}`);
      case "fileContainingSymbol":
        return withDependencies(fileOfSymbol(request.value), `symbol ${request.value}`);
      case "allExtensionNumbersOfType":
        if (!registry.getMessage(request.value)) return error(NOT_FOUND, `type ${request.value} not found`);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: request.value, extensionNumber: [] } };
      case "fileContainingExtension":
        return error(NOT_FOUND, `no extension ${request.value.extensionNumber} of ${request.value.containingType}`);
      default:
        return error(UNIMPLEMENTED, "unknown reflection request");
    }
  };

  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield create(ServerReflectionResponseSchema, {
          validHost: req.host,
          originalRequest: req,
          messageResponse: answer(req),
        });
      }
    },
  };
}
