import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startS3rver } from "../src/lib/s3rver-process";

test("s3rver child serves put/get/paged list", async () => {
  const s3 = await startS3rver({ buckets: ["smoke"] });
  try {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    await client.send(new PutObjectCommand({ Bucket: "smoke", Key: "a/b", Body: "hello" }));
    const got = await client.send(new GetObjectCommand({ Bucket: "smoke", Key: "a/b" }));
    expect(await got.Body!.transformToString()).toBe("hello");
    for (let i = 0; i < 3; i++)
      await client.send(new PutObjectCommand({ Bucket: "smoke", Key: `p/${i}`, Body: "x" }));
    const page = await client.send(new ListObjectsV2Command({ Bucket: "smoke", Prefix: "p/", MaxKeys: 2 }));
    expect(page.IsTruncated).toBe(true);
    const next = await client.send(
      new ListObjectsV2Command({
        Bucket: "smoke",
        Prefix: "p/",
        MaxKeys: 2,
        ContinuationToken: page.NextContinuationToken,
      }),
    );
    expect(next.Contents?.map((c) => c.Key)).toEqual(["p/2"]);
    client.destroy();
  } finally {
    await s3.stop();
  }
});
