"""Motion data read without Blender: BVH files, bone maps and their presets, results.

The file kinds each reader takes (one list for the panel, the batch options and the
manifest's animation columns):"""

#: body animations (Blender's BVH and FBX importers)
BODY_KINDS = (".bvh", ".fbx")
#: face-capture takes (Live Link Face CSV: ``livelink``)
FACE_KINDS = (".csv",)
#: lip-sync cues (Rhubarb TSV or JSON: ``rhubarb``)
LIPSYNC_KINDS = (".tsv", ".json")
