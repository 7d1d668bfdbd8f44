import type { ImageConfig } from '../config/types.js';
import { usageError } from '../core/errors.js';
import { normalizeRepository, parseImageReference } from '../images/reference.js';
import type { ImageUpdate } from './types.js';

/**
 * Reads one `--image` argument: `<name>=<reference>`, where `<name>` is an image name from the
 * config or a repository, or a bare `<reference>` (named by its repository). The reference needs
 * a tag or a digest, and must name the repository the config gives the image.
 */
export function parseImageUpdate(
  argument: string,
  images: readonly Pick<ImageConfig, 'name' | 'repository'>[] = [],
): ImageUpdate {
  const equals = argument.indexOf('=');
  const name = equals === -1 ? undefined : argument.slice(0, equals);
  const text = equals === -1 ? argument : argument.slice(equals + 1);
  const reference = parseImageReference(text);
  if (reference.tag === undefined && reference.digest === undefined) {
    throw usageError('IMAGE_REFERENCE_INVALID', `image reference "${text}" has neither a tag nor a digest`, {
      hint: 'write <repository>:<tag>, <repository>@sha256:<digest> or both',
    });
  }
  const sharing = (except: string) =>
    images
      .filter(
        (image) => image.name !== except && normalizeRepository(image.repository) === reference.repository,
      )
      .map((image) => image.name);
  if (name === undefined) {
    // Named by its repository: use the config's name for it, so trailers say `web=…`.
    const byRepository = images.filter(
      (image) => normalizeRepository(image.repository) === reference.repository,
    );
    if (byRepository.length > 1) {
      throw usageError(
        'IMAGE_ARGUMENT_INVALID',
        `--image ${argument}: ${reference.repository} is the repository of ${byRepository.map((image) => image.name).join(' and ')} in the config; say which`,
        { hint: `pass --image ${byRepository[0]!.name}=${text}` },
      );
    }
    return withShared(
      { name: byRepository[0]?.name ?? reference.name, reference },
      sharing(byRepository[0]?.name ?? ''),
    );
  }
  if (name === '') {
    throw usageError('IMAGE_ARGUMENT_INVALID', `--image ${argument} has an empty name before "="`, {
      hint: 'pass --image <name>=<reference>, with an image name from gitops.yaml or a repository',
    });
  }
  const configured = images.find((image) => image.name === name);
  const repository = configured ? normalizeRepository(configured.repository) : normalizeRepository(name);
  if (repository === undefined) {
    const known = images.map((image) => image.name);
    throw usageError(
      'IMAGE_ARGUMENT_INVALID',
      `--image ${argument}: "${name}" is neither an image in the config nor a repository name`,
      {
        hint:
          known.length > 0 ? `images in the config: ${known.join(', ')}` : 'name the image by its repository',
      },
    );
  }
  if (repository !== reference.repository) {
    throw usageError(
      'IMAGE_ARGUMENT_INVALID',
      `--image ${argument}: "${name}" is ${repository}, but the reference names ${reference.repository}`,
      { hint: 'pass a reference in the same repository, or the name of the image it belongs to' },
    );
  }
  return withShared({ name, reference }, configured ? sharing(name) : []);
}

function withShared(update: ImageUpdate, sharedWith: string[]): ImageUpdate {
  return sharedWith.length > 0 ? { ...update, sharedWith } : update;
}
